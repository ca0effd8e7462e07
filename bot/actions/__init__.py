"""Rasa custom actions, served by the rasa-sdk action server of the app environment."""

from bot.actions.enquiry import ActionEnquiryStatus, ActionHandleEnquiry, ActionSmalltalk

__all__ = ["ActionEnquiryStatus", "ActionHandleEnquiry", "ActionSmalltalk"]

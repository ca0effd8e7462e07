"""The Telegram side of Lotsen, on python-telegram-bot."""

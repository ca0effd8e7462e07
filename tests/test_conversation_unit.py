"""Pure parts of the conversation: Rasa message merging and association parsing."""

from __future__ import annotations

from bot.conversation import merge_rasa_messages, parse_association


def test_rasa_paragraphs_become_one_message_with_the_enquiry_id() -> None:
    messages: list[dict[str, object]] = [
        {"recipient_id": "x", "text": "Din fråga gäller X.\nDitt ärendenummer: LOT-2026-00001"},
        {"recipient_id": "x", "text": "Vad händer nu? ..."},
        {
            "recipient_id": "x",
            "custom": {"lotsen": {"enquiry_id": 1, "reference": "LOT-2026-00001"}},
        },
    ]
    replies = merge_rasa_messages(messages)
    assert len(replies) == 1
    assert replies[0].text.endswith("Vad händer nu? ...")
    assert "LOT-2026-00001" in replies[0].text
    assert replies[0].enquiry_id == 1


def test_buttons_keep_their_own_message() -> None:
    messages: list[dict[str, object]] = [
        {"text": "Välj:", "buttons": [{"title": "Ja", "payload": "/affirm"}]},
        {"text": "Mer text"},
    ]
    replies = merge_rasa_messages(messages)
    assert [r.text for r in replies] == ["Välj:", "Mer text"]
    assert replies[0].buttons == [[("Ja", "say:/affirm")]]


def test_association_name_and_org_number() -> None:
    assert parse_association("Storåsa IF, 802400-1234") == ("Storåsa IF", "802400-1234")
    assert parse_association("Storåsa IF 8024001234") == ("Storåsa IF", "802400-1234")
    assert parse_association("  Scouterna  ") == ("Scouterna", None)
    assert parse_association("x") is None
    assert parse_association("a" * 300) is None

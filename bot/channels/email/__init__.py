"""The e-mail channel: departments' functional mailboxes and the coordinator's mailbox.

Rows of the outbox with `channel == "email"` are rendered with `bot.messages.render`, wrapped
into an e-mail (subject with the reference, plain text and simple HTML, a signed link into the
desk) and sent over SMTP outside any transaction, each once (`outbox.py`).
"""

"""The harness that tests/ and bench/ share: a fake Telegram Bot API server, the real stack on
free ports, process and database helpers, and waiting on a condition instead of a fixed sleep.

It drives Lotsen's real parts from outside (the only fake is Telegram's server); nothing in
bot/ or db/ imports it.
"""

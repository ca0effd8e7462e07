"""Logging configuration with a filter that keeps the bot token and webhook secret out of logs."""

from __future__ import annotations

import logging

from bot.settings import Settings


class RedactSecrets(logging.Filter):
    """Replace every occurrence of a secret in a log record with a placeholder."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the formatted message and drop the raw args."""
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "[REDACTED]")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup_logging(settings: Settings) -> None:
    """Configure root logging once, with secrets redacted from every handler."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    secrets = [settings.token or ""]
    if settings.webhook_secret:
        secrets.append(settings.webhook_secret.get_secret_value())
    redact = RedactSecrets(secrets)
    for handler in root.handlers:
        handler.addFilter(redact)
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

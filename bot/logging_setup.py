"""Logging configuration with a filter that keeps the bot token and other secrets out of logs."""

from __future__ import annotations

import logging

from bot.settings import Settings

_FORMATTER = logging.Formatter()


class RedactSecrets(logging.Filter):
    """Replace every occurrence of a secret in a log record with a placeholder."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the formatted message, the traceback and the stack; drop the raw args."""
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        # Exception texts carry URLs too (httpx: "... for url 'https://…/bot<TOKEN>/…'").
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
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
    for secret in (settings.webhook_secret, settings.smtp_password, settings.link_secret):
        if secret is not None:
            secrets.append(secret.get_secret_value())
    redact = RedactSecrets(secrets)
    for existing in root.handlers:
        existing.addFilter(redact)
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

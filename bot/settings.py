"""Runtime settings: one object, read from the environment and `.env`, passed into builders."""

from __future__ import annotations

import os
import re
import secrets
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(RuntimeError):
    """Raised with one readable line when the settings are invalid."""


class Settings(BaseSettings):
    """Everything Lotsen can be configured with. Defaults run the embedded demo."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'lotsen.db'}",
        description="SQLAlchemy URL; SQLite file by default, postgresql+psycopg://… in production.",
    )
    telegram_bot_token: SecretStr | None = None
    telegram_bot_username: str = "LotsenBot"
    telegram_api_base_url: str = "https://api.telegram.org"
    telegram_mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    coordinator_chat_id: int | None = None
    telegram_poll_timeout: int = Field(default=25, ge=0, le=50)

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_port: int = Field(default=5005, ge=1, le=65535)
    action_port: int = Field(default=5055, ge=1, le=65535)
    rasa_listen: str = "127.0.0.1"
    rasa_replicas: int = Field(default=1, ge=1, le=32)
    rasa_urls: str | None = Field(
        default=None,
        description="Comma-separated Rasa servers for the bot (replicas on other machines).",
    )
    action_servers: int = Field(default=1, ge=1, le=32)
    lock_store_url: str | None = Field(
        default=None, description="redis://[:password@]host[:port][/db]: Rasa's RedisLockStore."
    )
    bot_workers: int = Field(default=1, ge=1, le=32)
    web_port: int = Field(default=8080, ge=1, le=65535)
    desk_base_url: str | None = None
    rasa_timeout_seconds: float = Field(default=20.0, gt=0)
    rasa_venv: Path = PROJECT_ROOT / ".venv-rasa"
    model_dir: Path = PROJECT_ROOT / "models"
    tracker_db_url: str | None = Field(
        default=None,
        description="Rasa tracker store URL; defaults to a SQLite file beside the app database.",
    )

    municipality_file: Path = PROJECT_ROOT / "db" / "municipality.yml"
    routes_file: Path = PROJECT_ROOT / "db" / "seed_routes.yml"
    authorities_file: Path = PROJECT_ROOT / "db" / "seed_authorities.yml"
    max_message_chars: int = Field(default=4000, gt=0)
    rate_limit_per_second: float = Field(default=0.5, gt=0)
    rate_limit_burst: int = Field(default=6, ge=1)
    log_level: str = "INFO"

    # E-mail to departments' mailboxes (off while SMTP_HOST is unset: mail waits in the outbox).
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_from: str = "Lotsen <lotsen@localhost>"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # The coordinator's mailbox (default: the municipality's coordinator e-mail) and the local
    # hour at which the coordinator gets a daily e-mail digest of open escalations (unset: none).
    coordinator_email: str | None = None
    coordinator_digest_hour: int | None = Field(default=None, ge=0, le=23)
    # The registrar (registrator): asked for records from /diarium, told of enquiries the case
    # system would not take. Default: the coordinator's mailbox (COORDINATOR_EMAIL or the
    # municipality's coordinator e-mail).
    registrar_email: str | None = None
    # E-mail in (README "E-mail in"). INBOUND_ADDRESS is where associations write; replies to a
    # forward go to svar+<token>@ its domain. Mail arrives over the SMTP listener
    # (INBOUND_SMTP_PORT, off while unset) and/or by polling a mailbox over IMAP (IMAP_HOST).
    inbound_address: str | None = None
    inbound_smtp_host: str = "127.0.0.1"
    inbound_smtp_port: int | None = Field(default=None, ge=1, le=65535)
    inbound_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    imap_host: str | None = None
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_ssl: bool = True
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_oauth2_token: SecretStr | None = None  # XOAUTH2 instead of the password when set
    imap_folder: str = "INBOX"
    imap_done_folder: str | None = None  # move handled mail there (else it is marked \Seen)
    imap_poll_seconds: float = Field(default=30.0, gt=0)
    # The municipality's errand system (SupportManagement's API): each new enquiry is filed as
    # an errand there. Off while ERRAND_BASE_URL, ERRAND_MUNICIPALITY_ID or ERRAND_NAMESPACE is
    # unset (filings wait in the outbox). ERRAND_TOKEN is sent as a bearer token.
    errand_base_url: str | None = None
    errand_municipality_id: str | None = None
    errand_namespace: str | None = None
    errand_token: SecretStr | None = None
    errand_status: str = "NEW"
    # Enquiries received from this day on are filed (default: from a day before the first run).
    errand_file_from: date | None = None
    errand_timeout_seconds: float = Field(default=15.0, gt=0)
    # Signs the links in departments' e-mail; default: a random key kept in var/link-secret.
    link_secret: SecretStr | None = None

    # Retention (days): closed enquiries' texts, Rasa tracker events, the audit trail, and
    # processed Telegram updates / sent outbox texts. `lotsen purge` and the daily job apply them.
    retention_enquiry_text_days: int = Field(default=730, ge=1)
    retention_tracker_days: int = Field(default=90, ge=1)
    retention_audit_days: int = Field(default=3650, ge=1)
    retention_inbox_days: int = Field(default=30, ge=1)
    # Comments on answers (they may hold personal data): purged under a disposal decision.
    retention_feedback_comment_days: int = Field(default=365, ge=1)
    # Raw inbound e-mail once handled, and web chats (with their transcripts) after their last
    # message: purged under a disposal decision (db/privacy/catalogue.py describes every store).
    retention_inbound_mail_days: int = Field(default=90, ge=1)
    retention_web_chat_days: int = Field(default=90, ge=1)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("telegram_api_base_url", "rasa_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("errand_base_url")
    @classmethod
    def _errand_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("errand_namespace")
    @classmethod
    def _errand_namespace(cls, value: str | None) -> str | None:
        if value is not None and value and not re.fullmatch(r"[\w-]+", value):
            raise ValueError("letters, digits, _ and - only (SupportManagement's namespace)")
        return value or None

    @field_validator("lock_store_url", "rasa_urls", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("lock_store_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://")):
            raise ValueError("must be a redis:// or rediss:// URL")
        return value

    @model_validator(mode="after")
    def _scale_out(self) -> Settings:
        if self.rasa_replicas > 1 and not self.lock_store_url:
            raise ValueError(
                f"RASA_REPLICAS={self.rasa_replicas} needs a Redis lock store "
                "(LOCK_STORE_URL=redis://host:6379/0), so that no conversation is processed "
                "by two replicas at once"
            )
        if self.rasa_replicas > 1 and self.tracker_url.startswith("sqlite"):
            raise ValueError(
                f"RASA_REPLICAS={self.rasa_replicas} needs a tracker store the replicas share: "
                "PostgreSQL (DATABASE_URL or TRACKER_DB_URL=postgresql://…)"
            )
        if self.action_servers > self.rasa_replicas:
            raise ValueError(
                f"ACTION_SERVERS={self.action_servers} is more than RASA_REPLICAS="
                f"{self.rasa_replicas}; each Rasa server calls one action server"
            )
        if self.bot_workers > 1 and not self.database_url.startswith("postgresql"):
            raise ValueError(
                f"BOT_WORKERS={self.bot_workers} needs PostgreSQL (DATABASE_URL=postgresql://…); "
                "on SQLite one bot process does the work"
            )
        if self.bot_workers > 1 and self.telegram_mode != "webhook":
            raise ValueError(
                f"BOT_WORKERS={self.bot_workers} needs TELEGRAM_MODE=webhook; "
                "Telegram hands polled updates to one process only"
            )
        return self

    @property
    def rasa_servers(self) -> list[str]:
        """Return the Rasa servers the bot talks to: RASA_URLS, else RASA_REPLICAS from RASA_URL."""
        if self.rasa_urls:
            return [url.strip().rstrip("/") for url in self.rasa_urls.split(",") if url.strip()]
        base = urlsplit(self.rasa_url)
        port = base.port or (443 if base.scheme == "https" else 80)
        host = base.hostname or "127.0.0.1"
        return [
            urlunsplit(base._replace(netloc=f"{host}:{port + n}")).rstrip("/")
            for n in range(self.rasa_replicas)
        ]

    @property
    def token(self) -> str | None:
        """Return the bot token in clear text, or None when running without Telegram."""
        return self.telegram_bot_token.get_secret_value() if self.telegram_bot_token else None

    @property
    def desk_url(self) -> str:
        """Return the desk's address for links (DESK_BASE_URL when set, else this machine)."""
        if self.desk_base_url:
            return self.desk_base_url.rstrip("/")
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def var_dir(self) -> Path:
        """Return the folder for runtime state (SQLite files, logs, pid files)."""
        return PROJECT_ROOT / "var"

    @property
    def errand_enabled(self) -> bool:
        """Tell whether enquiries are filed in the errand system (its address is complete)."""
        return bool(self.errand_base_url and self.errand_municipality_id and self.errand_namespace)

    @property
    def email_enabled(self) -> bool:
        """Tell whether e-mail is switched on (SMTP_HOST is set)."""
        return bool(self.smtp_host and self.smtp_host.strip())

    @property
    def inbound_domain(self) -> str | None:
        """Return the domain of INBOUND_ADDRESS (where svar+<token> reply addresses live)."""
        if not self.inbound_address or "@" not in self.inbound_address:
            return None
        return self.inbound_address.strip().rpartition("@")[2].lower() or None

    def link_signing_key(self) -> bytes:
        """Return the key that signs e-mail links: LINK_SECRET, else var/link-secret (made once)."""
        if self.link_secret is not None and self.link_secret.get_secret_value():
            return self.link_secret.get_secret_value().encode("utf-8")
        return stored_secret(self.var_dir / "link-secret")

    @property
    def tracker_url(self) -> str:
        """Return the Rasa tracker store URL (SQL, so conversations survive restarts)."""
        if self.tracker_db_url:
            return self.tracker_db_url
        if self.database_url.startswith("sqlite"):
            return f"sqlite:///{self.var_dir / 'rasa-tracker.db'}"
        return self.database_url


def stored_secret(path: Path) -> bytes:
    """Return the random key kept in a file readable by this user only, creating it once."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        handle = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "w", encoding="ascii") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(draft, path)  # atomic: whoever links first wins, complete with its content
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_bytes().strip()


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one clear line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            if err["loc"]
            else str(err["msg"]).removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise SettingsError(f"Invalid settings: {problems}") from None

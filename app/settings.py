"""All configuration, read from environment variables with safe defaults.

One dataclass per concern; `get_settings()` builds them once per process.
Tests set the environment before the app is imported.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(RuntimeError):
    """Configuration that cannot work; the message says what to set."""


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name).lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


def data_dir() -> Path:
    """Where development state lives: embedded servers, the generated secret key."""
    return Path(_env("IGNITE_DATA_DIR") or PROJECT_ROOT / ".data")


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = field(default_factory=lambda: _env("DATABASE_URL"))
    pool_min: int = field(default_factory=lambda: _env_int("DATABASE_POOL_MIN", 1))
    pool_max: int = field(default_factory=lambda: _env_int("DATABASE_POOL_MAX", 10))


@dataclass(frozen=True)
class RedisSettings:
    url: str = field(default_factory=lambda: _env("REDIS_URL"))


@dataclass(frozen=True)
class WorkerSettings:
    processes: int = field(default_factory=lambda: _env_int("WORKER_PROCESSES", 2))
    threads: int = field(default_factory=lambda: _env_int("WORKER_THREADS", 8))
    web_workers: int = field(default_factory=lambda: _env_int("WEB_WORKERS", os.cpu_count() or 1))
    # The plan limit: messages per minute one workspace may send across all servers (0 = no limit).
    workspace_per_minute: int = field(default_factory=lambda: _env_int("WORKSPACE_SEND_PER_MINUTE", 0))


@dataclass(frozen=True)
class SecuritySettings:
    secret_key: str
    login_max_failures: int = field(default_factory=lambda: _env_int("LOGIN_MAX_FAILURES", 5))
    login_lockout_seconds: int = field(default_factory=lambda: _env_int("LOGIN_LOCKOUT_SECONDS", 900))
    password_reset_ttl_seconds: int = field(default_factory=lambda: _env_int("PASSWORD_RESET_TTL", 3600))
    invite_ttl_seconds: int = field(default_factory=lambda: _env_int("INVITE_TTL", 7 * 86400))
    session_max_age: int = field(default_factory=lambda: _env_int("SESSION_MAX_AGE", 14 * 86400))
    max_form_bytes: int = field(default_factory=lambda: _env_int("MAX_FORM_BYTES", 1_000_000))
    # Opens /health details and /metrics to callers other than loopback (as `Authorization: Bearer ...`).
    metrics_token: str = field(default_factory=lambda: _env("METRICS_TOKEN"))


def _system_mail_url() -> str:
    url = _env("SYSTEM_MAIL_URL")
    if url and not url.startswith(("smtp://", "smtps://")):
        raise SettingsError("SYSTEM_MAIL_URL must be an SMTP URL such as smtp://user:pass@host:587 or smtps://...")
    security = parse_qs(urlsplit(url).query).get("security", ["tls"])[-1]
    if security not in ("none", "starttls", "tls"):
        raise SettingsError(f"SYSTEM_MAIL_URL: security must be none, starttls or tls, got {security!r}")
    return url


@dataclass(frozen=True)
class MailSettings:
    # The platform sender of account mail (password resets, invitations, sign-in notices).
    system_mail_url: str = field(default_factory=_system_mail_url)


@dataclass(frozen=True)
class Settings:
    environment: str
    base_url: str
    host: str
    port: int
    log_level: str
    database: DatabaseSettings
    redis: RedisSettings
    workers: WorkerSettings
    security: SecuritySettings
    mail: MailSettings = field(default_factory=MailSettings)

    @property
    def uses_development_inbox(self) -> bool:
        """Account mail goes to the development inbox only without a platform sender, in development or tests."""
        return not self.mail.system_mail_url and self.environment in ("development", "test")

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


def _development_secret_key() -> str:
    """A key generated once and kept in .data/ so sessions survive restarts."""
    path = data_dir() / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _secret_key(environment: str) -> str:
    key = _env("SECRET_KEY")
    if key:
        if len(key) < 32:
            raise SettingsError("SECRET_KEY must be at least 32 characters long")
        return key
    if environment == "production":
        raise SettingsError(
            "SECRET_KEY is not set. In production set SECRET_KEY to a random string of at least "
            "32 characters, e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return _development_secret_key()


def load_settings() -> Settings:
    environment = _env("IGNITE_ENV", "development").lower()
    port = _env_int("PORT", 8000)
    host = _env("HOST", "127.0.0.1")
    return Settings(
        environment=environment,
        base_url=_env("BASE_URL", f"http://{host}:{port}").rstrip("/"),
        host=host,
        port=port,
        log_level=_env("LOG_LEVEL", "INFO").upper(),
        database=DatabaseSettings(),
        redis=RedisSettings(),
        workers=WorkerSettings(),
        security=SecuritySettings(secret_key=_secret_key(environment)),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()

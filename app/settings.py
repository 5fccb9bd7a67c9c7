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
from urllib.parse import parse_qs, urlsplit, urlunsplit

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


def broker_database_url(url: str) -> str:
    """The Redis database next to `url`'s (the one after it; the one before for the last, 15).

    Dramatiq's maintenance lists its acknowledgement keys with KEYS, which walks the whole database and blocks the
    server meanwhile: on the app's database, among hundreds of thousands of idempotency entries, buckets and
    streams, each pass stopped every API request for 150-500 ms. In a database of its own it walks only its keys.
    """
    if not url:
        return ""
    parts = urlsplit(url)
    current = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{current + 1 if current < 15 else current - 1}"))


@dataclass(frozen=True)
class RedisSettings:
    url: str = field(default_factory=lambda: _env("REDIS_URL"))
    # The task broker's database: BROKER_REDIS_URL, else the one next to REDIS_URL's on the same server.
    broker_url: str = field(default_factory=lambda: _env("BROKER_REDIS_URL") or broker_database_url(_env("REDIS_URL")))


@dataclass(frozen=True)
class FileSettings:
    """Files one process hands to another (an upload the web received, for the worker that imports it).

    They go to an S3-compatible bucket when FILES_S3_BUCKET is set, else to SHARED_FILES_DIR, a directory that
    every web and worker process must see (docker-compose mounts one volume there). Empty S3 keys leave
    boto3 to its usual credentials (AWS_* variables, an instance role).
    """

    shared_dir: Path = field(default_factory=lambda: Path(_env("SHARED_FILES_DIR") or data_dir() / "shared"))
    s3_bucket: str = field(default_factory=lambda: _env("FILES_S3_BUCKET"))
    s3_prefix: str = field(default_factory=lambda: _env("FILES_S3_PREFIX"))
    s3_endpoint_url: str = field(default_factory=lambda: _env("FILES_S3_ENDPOINT_URL"))
    s3_region: str = field(default_factory=lambda: _env("FILES_S3_REGION"))
    s3_access_key_id: str = field(default_factory=lambda: _env("FILES_S3_ACCESS_KEY_ID"))
    s3_secret_access_key: str = field(default_factory=lambda: _env("FILES_S3_SECRET_ACCESS_KEY"))


@dataclass(frozen=True)
class ImportLimits:
    """What an imported file may hold, checked before it is read in full: an XLSX is a zip, and a few hundred
    kilobytes of it can unpack to gigabytes. Each setting is named in the message of a file over it."""

    max_unpacked_mb: int = field(default_factory=lambda: _env_int("IMPORT_MAX_UNPACKED_MB", 2048))
    # Spreadsheets compress 5 to 30 times; a zip bomb a thousand times.
    max_compression_ratio: int = field(default_factory=lambda: _env_int("IMPORT_MAX_COMPRESSION_RATIO", 200))
    # openpyxl holds all of a workbook's shared strings in memory (64 MB of them: about 2M texts, 500 MB, 15 s).
    max_shared_strings_mb: int = field(default_factory=lambda: _env_int("IMPORT_MAX_SHARED_STRINGS_MB", 64))
    # Excel's own limit for one cell; a longer value sends its row to the rejects.
    max_cell_chars: int = field(default_factory=lambda: _env_int("IMPORT_MAX_CELL_CHARS", 32_767))
    max_rows: int = field(default_factory=lambda: _env_int("IMPORT_MAX_ROWS", 10_000_000))


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


def _env_seconds_list(name: str, default: str) -> tuple[int, ...]:
    raw = _env(name, default)
    try:
        return tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise SettingsError(f"{name} must be whole seconds separated by commas, got {raw!r}") from exc


@dataclass(frozen=True)
class SendingSettings:
    """How campaign sends are cut into batches, leased, retried and started."""

    # 500: a batch's fixed costs (claim, routing, tokens, outcomes) spread over more messages; 250 sent 7%
    # fewer a second (benchmarks/campaign.py), and a batch still takes only a couple of seconds.
    batch_size: int = field(default_factory=lambda: _env_int("SEND_BATCH_SIZE", 500))
    # Batches one worker process sends at once; more wait their turn before claiming. Two keep its event loop
    # busy; eight at once measured a quarter slower (benchmarks/campaign.py), the loop juggling their lanes.
    batches_per_process: int = field(default_factory=lambda: _env_int("SEND_BATCHES_PER_PROCESS", 2))
    # A claimed batch whose worker died goes back to the queue once its lease is over.
    lease_seconds: int = field(default_factory=lambda: _env_int("SEND_LEASE_SECONDS", 300))
    # Rows queued (or due again) but claimed by nobody for this long are queued again: Redis lost the message.
    requeue_after_seconds: int = field(default_factory=lambda: _env_int("SEND_REQUEUE_AFTER_SECONDS", 600))
    # Waits after each transient failure of a message; once they are used up the message fails.
    retry_delays: tuple[int, ...] = field(
        default_factory=lambda: _env_seconds_list("SEND_RETRY_DELAYS", "60,300,1800,7200"))
    # The wait after a server said "slow down" (421, 454) or could not be reached; not counted as an attempt.
    throttled_defer_seconds: int = field(default_factory=lambda: _env_int("SEND_THROTTLED_DEFER_SECONDS", 60))
    # A scheduled campaign that missed its start by more than this (the platform was down) waits for a person.
    latest_start_minutes: int = field(default_factory=lambda: _env_int("CAMPAIGN_LATEST_START_MINUTES", 60))
    # The development capture keeps this many newest messages per workspace and counts the rest.
    capture_keep: int = field(default_factory=lambda: _env_int("CAPTURE_KEEP_PER_WORKSPACE", 1000))
    # The operator's kill switch as a setting: no campaign of any workspace is sent while it is on.
    stopped: bool = field(default_factory=lambda: _env_bool("SENDING_STOPPED", False))


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in _env(name).split(",") if part.strip())


@dataclass(frozen=True)
class TrackingSettings:
    """Open and click tracking: the keys of its links, and how events travel to the database."""

    # Keys the links of mail already sent were signed with, comma-separated: they still verify after
    # SECRET_KEY is rotated, while new links are signed with SECRET_KEY only.
    previous_keys: tuple[str, ...] = field(default_factory=lambda: _env_list("TRACKING_PREVIOUS_KEYS"))
    # Events waiting in one web process for their append to Redis; past this, requests wait for room.
    buffer_max: int = field(default_factory=lambda: _env_int("TRACKING_BUFFER_MAX", 10_000))
    # About how many events the aggregator writes to PostgreSQL in one transaction (a stream entry holds one
    # to a few hundred, as the web process grouped them, so it reads as many entries as make this many).
    # A statement's own cost is high beside its rows' (20,000 events a batch measured twice the rate of 2,000).
    batch_size: int = field(default_factory=lambda: _env_int("TRACKING_BATCH_SIZE", 20_000))
    # A batch left unacknowledged this long (its aggregator died) is taken over by another one.
    reclaim_after_seconds: int = field(default_factory=lambda: _env_int("TRACKING_RECLAIM_AFTER_SECONDS", 60))


@dataclass(frozen=True)
class WebhookSettings:
    """Provider webhooks for bounces and complaints."""

    # Read SNS signing certificates from this local PEM file instead of fetching SigningCertURL (tests,
    # air-gapped set-ups); the URL must still name an sns.<region>.amazonaws.com host.
    sns_certificate_file: str = field(default_factory=lambda: _env("SNS_CERTIFICATE_FILE"))
    # Request SNS's SubscribeURL at this base instead of its Amazon host (tests, SNS-compatible stacks).
    sns_endpoint_url: str = field(default_factory=lambda: _env("SNS_ENDPOINT_URL").rstrip("/"))


@dataclass(frozen=True)
class InboundSettings:
    """The inbound SMTP receiver (`ignite inbound`) that return-path domains' MX records point at."""

    # Port 25 needs privileges: run it on 2525 and forward 25 to it, or publish 25 from the container.
    port: int = field(default_factory=lambda: _env_int("INBOUND_SMTP_PORT", 2525))
    host: str = field(default_factory=lambda: _env("INBOUND_SMTP_HOST", "127.0.0.1"))
    # Bounces return at most the original's headers or a part of it; anything bigger is refused at DATA.
    max_message_bytes: int = field(default_factory=lambda: _env_int("INBOUND_MAX_MESSAGE_BYTES", 10_000_000))


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
    sending: SendingSettings = field(default_factory=SendingSettings)
    files: FileSettings = field(default_factory=FileSettings)
    imports: ImportLimits = field(default_factory=ImportLimits)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    inbound: InboundSettings = field(default_factory=InboundSettings)

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

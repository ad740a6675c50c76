"""Typed settings: the one declared source of every default, read from ``RECLAIM_*`` variables.

Nothing else in Reclaim reads the environment. Code receives a :class:`Settings` (or a
narrower object derived from it, such as :class:`reclaim.media.MediaLimits`) as an argument,
so tests and embedders can run several configurations side by side in one process.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


def _default_data_dir() -> Path:
    return Path(user_data_dir("reclaim", appauthor=False))


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs (``127.0.0.2/32, ::1/128``); empty means none."""
    out = []
    for part in text.split(","):
        if part.strip():
            try:
                out.append(ipaddress.ip_network(part.strip(), strict=True))
            except ValueError as error:
                raise ValueError(f"not a network in CIDR form: {part.strip()!r}") from error
    return tuple(out)


class Settings(BaseSettings):
    """All of Reclaim's settings. Each field is ``RECLAIM_<FIELD NAME IN CAPITALS>``."""

    model_config = SettingsConfigDict(env_prefix="RECLAIM_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Directory that holds all of Reclaim's state (database, blobs, keys).",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the database; unset means SQLite at DATA_DIR/reclaim.db "
            "(e.g. postgresql+psycopg://user:pass@host/reclaim)."
        ),
    )
    database_pool_size: int = Field(
        default=5,
        ge=1,
        le=200,
        description="Connections each process keeps open to a server database (PostgreSQL).",
    )
    database_pool_overflow: int = Field(
        default=10,
        ge=0,
        le=500,
        description="Extra connections a process may open for a burst, closed after use.",
    )
    database_pool_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds to wait for a free connection before the request fails.",
    )
    queue_url: str | None = Field(
        default=None,
        description=(
            "Redis URL of the task queues, for workers on several machines (e.g. "
            "redis://queue.internal:6379/0 or unix:///run/redis/redis.sock?db=0); unset "
            "means a SQLite file in DATA_DIR (one machine)."
        ),
    )
    matcher_shard: str = Field(
        default="",
        description=(
            "k/n: this matcher process holds only shard k (from 0) of n of the banks, split "
            "by hash prefix, for banks too large for one machine's memory; empty holds all."
        ),
    )
    matcher_shards: str = Field(
        default="",
        description=(
            "Comma-separated base URLs of the matcher shards, in shard order (e.g. "
            "http://shard0.internal:8101,http://shard1.internal:8101): API processes and "
            "workers then send every lookup to all of them and merge; empty matches "
            "in-process."
        ),
    )
    matcher_secret: str = Field(
        default="",
        description=(
            "Shared secret API processes and workers present to matcher shards (POST "
            "/internal/match); "
            "required with RECLAIM_MATCHER_SHARDS, and shards serve that route only when set."
        ),
    )

    @field_validator("matcher_shard")
    @classmethod
    def _shard(cls, value: str) -> str:
        if value:
            from reclaim.banks.shards import Shard

            Shard.parse(value)
        return value

    @field_validator("matcher_shards")
    @classmethod
    def _shard_urls(cls, value: str) -> str:
        for url in filter(None, (part.strip() for part in value.split(","))):
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"a matcher shard URL starts with http:// or https:// ({url!r})")
        return value

    matcher_scope: Literal["shared", "all", "both"] = Field(
        default="shared",
        description=(
            "Which banked items a matcher process keeps loaded and in step: 'shared' (what "
            "platforms may match: /v1/match), 'all' (what the monitor and the re-checks "
            "match: shards that workers with RECLAIM_MATCHER_SHARDS ask), or 'both'. A lookup "
            "of the other kind is still answered, its matcher built at first use."
        ),
    )
    matcher_follow_seconds: float = Field(
        default=2.0,
        gt=0,
        le=3600,
        description=(
            "How often a process serving /v1/match applies the banks' change log in the "
            "background (lookups apply what is left first, so they are never behind)."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING", description="Minimum level of log records written to stderr."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log records as human-readable text or one JSON object each."
    )

    media_max_image_bytes: int = Field(
        default=200 * MiB, gt=0, description="Largest image file accepted, in bytes."
    )
    media_max_video_bytes: int = Field(
        default=4096 * MiB, gt=0, description="Largest video file accepted, in bytes."
    )
    media_max_pixels: int = Field(
        default=178_000_000,
        gt=0,
        le=178_956_970,  # Pillow refuses anything larger itself
        description="Largest image (width x height) decoded; larger ones are refused unread.",
    )
    media_max_video_pixels: int = Field(
        default=8192 * 4352, gt=0, description="Largest video frame (width x height) decoded."
    )
    media_max_frames: int = Field(
        default=20_000,
        gt=0,
        description="Most frames hashed from one video or animation; more is an error.",
    )
    media_max_video_seconds: float = Field(
        default=6 * 3600.0, gt=0, description="Longest video accepted, in seconds."
    )
    media_decode_timeout_seconds: float = Field(
        default=600.0, gt=0, description="Wall-clock limit for decoding and hashing one file."
    )
    media_worker_memory_mb: int = Field(
        default=4096,
        ge=256,
        description="Address-space limit (RLIMIT_AS) of each decoding worker process, in MiB.",
    )
    hash_workers: int = Field(
        default=0, ge=0, description="Decoding worker processes; 0 means one per CPU core."
    )
    video_sample_fps: float = Field(
        default=1.0, gt=0, le=240, description="Frames per second sampled from video for vPDQ."
    )
    jpeg_draft_min_side: int = Field(
        default=0,
        ge=0,
        description=(
            "JPEG fast path: decode at a reduced DCT scale whose shorter side stays at least "
            "this many pixels (0 decodes at full size, closest to the reference PDQ)."
        ),
    )

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return Path(os.path.expanduser(value))

    spool_dir: Path | None = Field(
        default=None,
        description=(
            "Where fetch workers leave downloaded media, sealed, for the hash and match "
            "workers (default: DATA_DIR/spool). Shared storage when those run on other "
            "machines, as the blob store is."
        ),
    )
    master_key_file: Path | None = Field(
        default=None,
        description=(
            "File holding the master key that wraps signing keys and data keys at rest "
            "(default: DATA_DIR/keys/master.key, made by `reclaim keys init`). Keep a copy "
            "offline: without it, sealed evidence can be verified but nothing new signed."
        ),
    )

    case_item_limit: int = Field(
        default=2000,
        gt=0,
        description="Most bank items one case may register, so the banks cannot be flooded.",
    )

    metrics_allow_networks: str = Field(
        default="127.0.0.0/8,::1/128",
        description=(
            "Comma-separated CIDRs allowed to read /metrics (Prometheus); loopback by default. "
            "Behind a reverse proxy, scrape each process directly rather than through it."
        ),
    )

    @field_validator("metrics_allow_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    fetch_allow_networks: str = Field(
        default="",
        description=(
            "Comma-separated CIDRs the monitor may fetch from although they are private or "
            "loopback (e.g. 127.0.0.2/32 for a local test site); empty allows none."
        ),
    )
    fetch_user_agent: str = Field(
        default="Reclaim-monitor/0.1 (finds and reports non-consensual intimate imagery)",
        description="User-Agent the monitor sends: honest about who is fetching and why.",
    )
    fetch_connect_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to resolve a host and connect to it."
    )
    fetch_read_timeout: float = Field(
        default=20.0, gt=0, description="Seconds without a byte from the server."
    )
    fetch_total_timeout: float = Field(
        default=120.0, gt=0, description="Seconds a whole fetch (redirects included) may take."
    )
    fetch_max_page_bytes: int = Field(
        default=10 * MiB, gt=0, description="Largest page, feed or other text fetched (decoded)."
    )
    fetch_max_image_bytes: int = Field(
        default=50 * MiB, gt=0, description="Largest image fetched (decoded)."
    )
    fetch_max_video_bytes: int = Field(
        default=2048 * MiB, gt=0, description="Largest video fetched (streamed to a file)."
    )
    fetch_max_redirects: int = Field(
        default=5, ge=0, description="Redirects followed, each re-checked by the SSRF guard."
    )
    fetch_retries: int = Field(
        default=2, ge=0, description="Retries of a fetch that failed transiently (backoff)."
    )
    monitor_workers: int = Field(
        default=4, ge=1, le=64, description="Pages one crawl fetches at a time (threads)."
    )
    monitor_host_concurrency: int = Field(
        default=2, ge=1, le=16, description="Requests at once to one site, across a crawl."
    )
    monitor_poll_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often `reclaim monitor run` (without --once) looks for due sources.",
    )
    chromium_path: str = Field(
        default="/usr/bin/chromium",
        description="The Chromium that renders pages needing JavaScript (Debian's package).",
    )
    render_timeout: float = Field(
        default=30.0, gt=0, le=600, description="Seconds one page may take to render."
    )
    capture_timeout: float = Field(
        default=60.0, gt=0, le=900, description="Seconds one evidence capture may take."
    )
    capture_max_bytes: int = Field(
        default=200 * MiB,
        gt=0,
        description="Bytes one connection of an evidence capture may carry (page, media).",
    )
    jobs_workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Task threads of `reclaim worker` (and of `reclaim serve`'s own worker).",
    )

    smtp_host: str | None = Field(
        default=None,
        description="SMTP server that sends approved notices; unset means notices wait unsent.",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="Port of the SMTP server.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description=(
            "starttls (upgrade on the submission port), tls (TLS from the start, port 465) "
            "or none (only for a relay on this machine)."
        ),
    )
    smtp_username: str | None = Field(default=None, description="SMTP login, if it needs one.")
    smtp_password: SecretStr | None = Field(
        default=None, description="SMTP password (never logged)."
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="CA bundle the SMTP server's certificate is checked against (default: system).",
    )
    smtp_timeout: float = Field(
        default=60.0, gt=0, description="Seconds without progress before an SMTP send gives up."
    )
    mail_from: str = Field(
        default="reclaim@localhost",
        description="Sender address of notices (the organisation's contact goes in Reply-To).",
    )
    takedown_approvals: int = Field(
        default=1,
        ge=1,
        le=2,
        description="Approvals a notice needs before it is sent (2: two different people).",
    )
    takedown_ladder: str = Field(
        default="host_abuse,hosting_provider,kcsc,search_engine",
        description=(
            "Channels tried one after another when content stays up (a minor's case starts "
            "with the hotline)."
        ),
    )
    takedown_escalate_after_hours: float = Field(
        default=72.0, gt=0, description="Hours a sent notice may go unanswered before escalating."
    )
    takedown_recheck_hours: float = Field(
        default=6.0, gt=0, description="Hours between re-checks of a reported URL still up."
    )
    takedown_watch_days: float = Field(
        default=30.0,
        ge=0,
        description="Days removed content keeps being re-checked, in case it comes back.",
    )
    takedown_send_attempts: int = Field(
        default=6, ge=1, le=50, description="Attempts to send one notice before it fails."
    )
    takedown_retry_seconds: float = Field(
        default=60.0, gt=0, description="Wait before the first resend; doubled each time."
    )

    portal_argon2_time_cost: int = Field(
        default=3, ge=1, le=20, description="argon2id passes for case passphrases."
    )
    portal_argon2_memory_kib: int = Field(
        default=65536, ge=8192, description="argon2id memory for case passphrases, in KiB."
    )
    portal_lockout_failures: int = Field(
        default=5, ge=1, le=100, description="Wrong passphrases on one case number before a lock."
    )
    portal_lockout_minutes: float = Field(
        default=15.0,
        gt=0,
        description="Minutes a case number stays locked (doubling with each further lock).",
    )

    portal_session_idle_minutes: float = Field(
        default=30.0, gt=0, description="Minutes a portal session lasts without use."
    )
    portal_session_hours: float = Field(
        default=12.0, gt=0, description="Hours a portal session lasts at most after sign-in."
    )

    portal_org: str | None = Field(
        default=None,
        description=(
            "The organisation (slug) whose survivors this portal serves; unset: the default "
            "one. Several centres on one installation each run a portal with their own."
        ),
    )
    portal_url: str = Field(
        default="http://127.0.0.1:8000/",
        description="The portal's public address, given in news messages to survivors.",
    )
    portal_exit_url: str = Field(
        default="https://www.naver.com/",
        description="Where the portal's quick-exit button leads (an everyday page).",
    )
    portal_max_form_bytes: int = Field(
        default=8 * MiB,
        gt=0,
        description="Largest portal form (a registration's hashes), in bytes.",
    )
    portal_rate_per_minute: int = Field(
        default=20,
        ge=1,
        description="Sign-in, recovery and registration posts per minute per address.",
    )

    staff_argon2_time_cost: int = Field(
        default=3, ge=1, le=20, description="argon2id passes for staff passwords."
    )
    staff_argon2_memory_kib: int = Field(
        default=65536, ge=8192, description="argon2id memory for staff passwords, in KiB."
    )
    staff_lockout_failures: int = Field(
        default=5, ge=1, le=100, description="Wrong passwords or codes before an account locks."
    )
    staff_lockout_minutes: float = Field(
        default=15.0,
        gt=0,
        description="Minutes a staff sign-in stays locked (doubling with each further lock).",
    )
    staff_session_idle_minutes: float = Field(
        default=30.0, gt=0, description="Minutes a staff session lasts without use."
    )
    staff_session_hours: float = Field(
        default=10.0, gt=0, description="Hours a staff session lasts at most: one working day."
    )
    staff_timezone: str = Field(
        default="Asia/Seoul",
        description="The desk's time zone: its working day (the exposure counter) and dates.",
    )

    @field_validator("staff_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. Asia/Seoul)") from None
        return value

    staff_rate_per_minute: int = Field(
        default=30, ge=1, description="Staff sign-in posts per minute per address."
    )

    serve_host: str = Field(default="127.0.0.1", description="Address `reclaim serve` listens on.")
    serve_port: int = Field(
        default=8000, ge=1, le=65535, description="Port `reclaim serve` listens on."
    )
    api_max_batch: int = Field(
        default=100, ge=1, le=10_000, description="Most signals in one /v1/match request."
    )
    api_max_upload_bytes: int = Field(
        default=200 * MiB, gt=0, description="Largest file accepted by /v1/match/file, in bytes."
    )
    api_max_body_bytes: int = Field(
        default=1 * MiB,
        gt=0,
        description="Largest JSON request body accepted by the API, in bytes.",
    )
    api_rate_per_minute: int = Field(
        default=600, ge=1, description="Requests per minute allowed to each API key."
    )
    api_sync_page_max: int = Field(
        default=1000, ge=1, le=100_000, description="Most records in one delta-sync page."
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force (the embedded SQLite file unless one is configured)."""
        return self.database_url or f"sqlite:///{self.data_dir / 'reclaim.db'}"

    @property
    def resolved_master_key_file(self) -> Path:
        """The master key file in force."""
        return self.master_key_file or self.data_dir / "keys" / "master.key"

    @property
    def resolved_spool_dir(self) -> Path:
        """The media spool in force."""
        return self.spool_dir or self.data_dir / "spool"

    @property
    def worker_count(self) -> int:
        """Number of decoding workers to start."""
        return self.hash_workers or (os.cpu_count() or 1)


def env_var(field_name: str) -> str:
    """The environment variable that sets ``field_name``."""
    return f"RECLAIM_{field_name.upper()}"

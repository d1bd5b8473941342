"""The one place that reads the environment: every setting of Zielsteuerung."""

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings from `ZS_*` environment variables (or a `.env` file)."""

    model_config = SettingsConfigDict(env_prefix="ZS_", env_file=".env", extra="ignore")

    database_url: str | None = None
    """PostgreSQL URL; unset means the embedded PostgreSQL under `data_dir`."""
    broker_url: str | None = None
    """Broker URL (`redis://`, `nats://`, ...); unset means the embedded Redis under `data_dir`.
    NATS takes several servers of one cluster, comma-separated (`nats://h1:4222,nats://h2:4222`)."""
    nats_replicas: int | None = None
    """Replicas of each JetStream stream the services declare (file storage). Unset: 3 when
    `broker_url` names several NATS servers (a cluster), else 1. Existing streams keep theirs."""
    data_dir: Path = Path(".zs")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    database_role: str = "zs_app"
    """Role the services switch to after connecting (SELECT/INSERT only on the event log)."""
    redeliver_after_s: float = 30.0
    """A message a crashed consumer left unacknowledged goes to another after this idle time."""
    log_format: str = "auto"
    """`json`, `console`, or `auto` (console on a terminal, JSON otherwise)."""
    log_level: str = "info"
    auth_issuer: str = "zielsteuerung-local"
    """The `iss` every bearer token must carry."""
    auth_audience: str = "zielsteuerung"
    """The `aud` every bearer token must carry."""
    auth_jwks_url: str | None = None
    """The identity provider's JWKS URL; unset: `auth_public_key_file`, else the local key."""
    auth_public_key_file: Path | None = None
    """A PEM public key that signs the tokens; unset (and no JWKS URL): the local key pair
    under `<data_dir>/auth/`, created on first use, which `zs token issue` signs with."""
    cors_origins: list[str] = []
    """Browser origins allowed to call the API (CORS); empty: none."""
    max_body_bytes: int = 8 * 1024 * 1024
    """HTTP request bodies larger than this are refused with 413."""
    anchor_dir: Path | None = None
    """Where the relay writes signed anchors of the log's head (a directory outside the
    database, e.g. another machine's mount); unset: it writes none."""
    anchor_every_s: float = 3600.0
    """Seconds between two anchors (one is written only when the head moved)."""
    health_max_lag_events: int = 1000
    """`/health` is `degraded` and `/ready` answers 503 when a projection or the relay is more
    than this many events behind the store's head."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process."""
    return Settings()

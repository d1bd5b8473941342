"""The one place that reads the environment: every setting of Zielsteuerung."""

import re
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
"""A source with a broker channel of its own: a slug (it is part of a stream and user name)."""


class Settings(BaseSettings):
    """Settings from `ZS_*` environment variables (or a `.env` file)."""

    model_config = SettingsConfigDict(env_prefix="ZS_", env_file=".env", extra="ignore")

    database_url: str | None = None
    """The migration owner's PostgreSQL URL (schemas, DDL, creating derived logins); unset
    means the embedded PostgreSQL under `data_dir`."""
    ingest_database_url: str | None = None
    """The ingest's own login (group `zs_ingest`); unset: derived from the owner's URL."""
    relay_database_url: str | None = None
    """The relay's own login (group `zs_relay`); unset: derived from the owner's URL."""
    projector_database_url: str | None = None
    """The projector's own login (group `zs_projector`); unset: derived from the owner's URL."""
    api_database_url: str | None = None
    """The query API's own login (group `zs_api`, read only); unset: derived from the owner's
    URL. The API's `POST /ingest` writes with the ingest's login."""
    broker_url: str | None = None
    """Broker URL (`redis://`, `nats://`, ...); unset means the embedded Redis under `data_dir`.
    NATS takes several servers of one cluster, comma-separated (`nats://h1:4222,nats://h2:4222`)."""
    broker_max_entries: int = Field(default=100_000, ge=1)
    """A broker channel that no consumer group reads (`zs.rejected`; `zs.events` before the
    first projector) keeps about this many messages. A channel a group reads is trimmed after
    each acknowledged batch to its oldest unsettled message, never further, whatever this says.
    NATS: the `max_msgs` (discarding the oldest) of every stream but the `zs.ingest` work queues."""
    nats_replicas: int | None = None
    """Replicas of each JetStream stream the services declare (file storage). Unset: 3 when
    `broker_url` names several NATS servers (a cluster), else 1. Existing streams keep theirs."""
    data_dir: Path = Path(".zs")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    api_workers: int | None = Field(default=None, ge=1)
    """HTTP API worker processes serving `http_host:http_port` under `zs up` and `zs api`;
    unset: one per core."""
    rebuild_workers: int | None = Field(default=None, ge=1)
    """Worker processes folding a projection's rebuild (`zs projections rebuild`, and the
    projector's rebuild of a projection whose version changed); unset: one per core; 1: the
    rebuild folds in its own process."""
    database_role: str = "zs_app"
    """Retired by migration 0013, which leaves `zs_app` without privileges: each service now
    switches to its own group role. Still read, so settings files naming it keep loading."""
    start_timeout_s: float = Field(default=120.0, gt=0)
    """How long `zs up` and `zs api` wait for each child process to say it runs (connected and
    subscribed; a projector's catch-up and rebuilds come after, shown on `/health`)."""
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
    broker_sources: str = ""
    """The sources with a broker channel of their own (`zs.ingest.<source>`), comma-separated:
    the ingest reads each and records what it carries as that source's only."""
    broker_trusted_network: bool = False
    """Whether the shared channel `zs.ingest` is trusted: true, whoever can write to it may write
    as any source; false (the default), every message on it is rejected `source_not_allowed`."""
    anchor_dir: Path | None = None
    """Where the relay writes signed anchors of the log's head (a directory outside the
    database, e.g. another machine's mount); unset: it writes none."""
    anchor_every_s: float = 3600.0
    """Seconds between two anchors (one is written only when the head moved)."""
    health_max_lag_events: int = 1000
    """`/health` is `degraded` and `/ready` answers 503 when a projection or the relay is more
    than this many events behind the store's head."""

    @field_validator("broker_sources")
    @classmethod
    def _sources_are_slugs(cls, value: str) -> str:
        for name in split_names(value):
            if not SOURCE_NAME.match(name):
                raise ValueError(f"broker source {name!r} is not a slug ([a-z0-9][a-z0-9_-]*)")
        return value

    @property
    def source_names(self) -> list[str]:
        """`broker_sources` as a list, without repeats."""
        return split_names(self.broker_sources)


def split_names(text: str) -> list[str]:
    """The comma-separated names of `text`, stripped, without blanks and repeats."""
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process."""
    return Settings()

"""The `eventsourcing` library's PostgreSQL application recorder as a benchmark writer."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

from events.chain import canonical_json
from events.log import NewEvent

TOPIC_PREFIX = "zielsteuerung.events:"
DEFAULT_PORT = 5432


@dataclass(frozen=True)
class ConnectionParams:
    """What `PostgresDatastore` needs to connect: libpq keywords taken from a URL."""

    dbname: str
    host: str
    port: int
    user: str
    password: str


def connection_params(url: str) -> ConnectionParams:
    """Split a PostgreSQL URL (TCP, or unix socket as `?host=/dir`) into libpq keywords."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    port = int(query.get("port", [str(parts.port or DEFAULT_PORT)])[0])
    return ConnectionParams(
        dbname=unquote(parts.path.lstrip("/")) or "postgres",
        host=host,
        port=port,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
    )


def originator_id(stream_id: str) -> UUID:
    """The UUID standing in for a stream id (the recorder's originator ids are UUIDs)."""
    return uuid5(NAMESPACE_URL, stream_id)


def stored_event(event: NewEvent, version: int) -> StoredEvent:
    """`event` as the library stores it: the whole envelope as canonical JSON bytes."""
    return StoredEvent(
        originator_id=originator_id(event.stream_id),
        originator_version=version,
        topic=TOPIC_PREFIX + event.type,
        state=canonical_json(event.model_dump(mode="json")).encode(),
    )


class EventsourcingWriter:
    """Inserts events with `PostgresApplicationRecorder.insert_events`, one call per batch."""

    name = "eventsourcing"

    def __init__(self, database_url: str) -> None:
        params = connection_params(database_url)
        self.datastore = PostgresDatastore(
            dbname=params.dbname,
            host=params.host,
            port=params.port,
            user=params.user,
            password=params.password,
            pool_size=1,
            # the library's insert function, one call per batch; its default pipelined path
            # hung (client and server both waiting) against the embedded PostgreSQL 18
            enable_db_functions=True,
        )
        self.recorder = PostgresApplicationRecorder(self.datastore)
        self.recorder.create_table()
        self.versions: Counter[str] = Counter()

    def prepare(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        """Serialise a batch (untimed, like the library's mapper before the recorder)."""
        batch = []
        for event in events:
            self.versions[event.stream_id] += 1
            batch.append(stored_event(event, self.versions[event.stream_id]))
        return batch

    async def write(self, batch: list[StoredEvent]) -> None:
        """Insert one batch in one transaction (the recorder is synchronous: it blocks)."""
        self.recorder.insert_events(batch)

    def close(self) -> None:
        """Close the datastore's connection pool."""
        self.datastore.close()

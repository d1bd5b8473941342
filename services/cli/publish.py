"""`zs publish FILE.ndjson`: send envelopes as upstream systems would, each to its source's
channel `zs.ingest.<source>` (as that source's broker user where its password is known), then
report what became of them once the ingest has settled them.

The ingest reads each channel on its own, so messages of different channels have no order among
them: the lines are published in runs of one channel, and each run waits until the ones before
it are settled (a source's agreement may refer to a jobcenter another source registered).
"""

import asyncio
import hashlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from events.catalogue import CATALOGUE
from events.chain import canonical_json
from events.log import Payload, RecordedEvent
from events.rejections import RejectionLog
from events.store import EventStore
from infra.broker import create_transport
from infra.embedded import SERVICES_USER, broker_passwords, source_user, with_user
from infra.settings import SOURCE_NAME, Settings
from services.pipeline.channels import INGEST_CHANNEL, publish_envelopes, source_channel

CHUNK = 500
POLL_S = 0.5
SERVER_NOW = "SELECT now()"


@dataclass(frozen=True)
class Tally:
    """What became of the published lines, as far as it is known."""

    published: int
    recorded: int
    duplicate: int
    rejected: int

    @property
    def settled(self) -> bool:
        """True once every line has a fate."""
        return self.recorded + self.duplicate + self.rejected >= self.published


class NotJson(ValueError):
    """A line of the file is not a JSON document."""


def read_lines(path: Path) -> list[bytes]:
    """The non-blank lines of an NDJSON file, as bytes; NotJson names every line (by its
    number) that is not JSON."""
    numbered = [(n, line) for n, line in enumerate(path.read_bytes().splitlines(), 1)]
    faults = []
    for number, line in numbered:
        if line.strip():
            try:
                json.loads(line)
            except ValueError as error:
                faults.append(f"line {number}: not JSON ({error})")
    if faults:
        raise NotJson("\n".join(faults))
    return [line for _, line in numbered if line.strip()]


def idempotency_key(line: bytes) -> tuple[str, str] | None:
    """(source, message_id) of a line that names both, else None."""
    try:
        envelope = json.loads(line)
        key = (envelope["source"], envelope["message_id"])
    except (ValueError, TypeError, KeyError):
        return None
    return key if all(isinstance(part, str) for part in key) else None


def same_payload(line: bytes, event: RecordedEvent) -> bool:
    """Whether `line` repeats what `event` recorded (type, schema version, occurred_at, data
    as the catalogue reads it), as the ingest compares them: then it settles the line as a
    duplicate, else as an idempotency conflict."""
    try:
        envelope = json.loads(line)
        kind, version = envelope["type"], envelope["schema_version"]
        occurred_at = datetime.fromisoformat(envelope["occurred_at"])
        data = CATALOGUE.decode(kind, version, envelope["data"]).model_dump(mode="json")
    except Exception:  # whatever the line holds: the ingest rejects it, the log shows it
        return False
    return Payload(kind, version, occurred_at, canonical_json(data)) == Payload.of(event)


def channel_of(
    key: tuple[str, str] | None, source: str | None, channels: Collection[str] | None
) -> str:
    """Where a line goes: `source`'s channel when given, else its envelope's source's where
    that source has a channel (any, when `channels` is None), else the shared `zs.ingest`."""
    if source is not None:
        return source_channel(source) if SOURCE_NAME.match(source) else INGEST_CHANNEL
    named = key[0] if key else None
    if not named or not SOURCE_NAME.match(named):
        return INGEST_CHANNEL
    return source_channel(named) if channels is None or named in channels else INGEST_CHANNEL


def sender_routes(settings: Settings) -> tuple[dict[str, str], list[str] | None]:
    """(passwords, channels) to publish with: the embedded broker's users (a configured broker
    URL names its user itself) and the sources with a channel of their own (None: every one)."""
    passwords = {} if settings.broker_url else broker_passwords(settings.data_dir)
    channels = settings.source_names or None
    if passwords:  # the embedded broker: the sources that have a user
        channels = [user.removeprefix("source-") for user in passwords if user != SERVICES_USER]
    return passwords, channels


def channel_url(broker_url: str, channel: str, passwords: Mapping[str, str]) -> str:
    """The URL to publish to `channel` with: as its source's broker user where that user's
    password is known (the embedded brokers), else `broker_url` as it is."""
    user = source_user(channel.removeprefix(f"{INGEST_CHANNEL}."))
    if channel != INGEST_CHANNEL and user in passwords:
        return with_user(broker_url, user, passwords[user])
    return broker_url


async def publish_lines(
    store: EventStore,
    broker_url: str,
    lines: Sequence[bytes],
    wait_s: float,
    console: Console,
    *,
    source: str | None = None,
    passwords: Mapping[str, str] | None = None,
    channels: Collection[str] | None = None,
) -> Tally | None:
    """Publish `lines` in runs of one channel, each after the ones before it are settled (the
    whole waits up to `wait_s`); the fates of all, or None if not known in time. `channels`:
    the sources with a channel of their own (None: every source); the others' lines go to the
    shared `zs.ingest`."""
    keys = [idempotency_key(line) for line in lines]
    named = [key for key in keys if key is not None]
    known_before = set(await store.find_recorded(named))
    started = await store.pool.fetchval(SERVER_NOW)
    deadline = time.monotonic() + wait_s

    async def settled(end: int) -> Tally | None:
        # Polling the last line alone first: counting every line's fate reads every recorded
        # event, seconds for a large file; the ingest settles a channel's lines in order.
        while not await tail_settled(store, lines[end - 1], keys[end - 1], started):
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(POLL_S)
        while True:
            tally = await count(store, lines[:end], keys[:end], known_before, started)
            if tally.settled:
                return tally
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(POLL_S)

    routes = [channel_of(key, source, channels) for key in keys]
    end = 0
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("publishing", total=len(lines))
        for channel, run in itertools.groupby(range(len(lines)), key=routes.__getitem__):
            if end and await settled(end) is None:
                return None
            indexes = list(run)
            url = channel_url(broker_url, channel, passwords or {})
            await publish_run(url, channel, [lines[i] for i in indexes],
                              lambda n: progress.advance(task, n))  # fmt: skip
            end = indexes[-1] + 1
    return await settled(end)


async def tail_settled(
    store: EventStore, line: bytes, key: tuple[str, str] | None, started: datetime
) -> bool:
    """Whether `line` has a fate: its key recorded (now or before), or its body rejected since
    `started`."""
    if key is not None and await store.find_recorded([key]):
        return True
    digest = hashlib.sha256(line).digest()
    return digest in await RejectionLog(store.pool).digests_since(started)


async def publish_run(
    url: str, channel: str, lines: Sequence[bytes], advance: Callable[[int], None]
) -> None:
    """Publish `lines` to `channel` over a connection of their own to `url`."""
    transport = create_transport(url)
    await transport.connect()
    try:
        for start in range(0, len(lines), CHUNK):
            await publish_envelopes(transport, lines[start : start + CHUNK], channel=channel)
            advance(len(lines[start : start + CHUNK]))
    finally:
        await transport.close()


async def count(
    store: EventStore,
    lines: Sequence[bytes],
    keys: Sequence[tuple[str, str] | None],
    known_before: set[tuple[str, str]],
    started: datetime,
) -> Tally:
    """Each line's fate: rejected (its body in the rejection log since `started`), recorded
    (the first line of a key recorded now), duplicate (a later line of a recorded key that
    repeats its payload), else not known yet. A repeat with another payload is an idempotency
    conflict: the ingest stores its rejection after the append that judged it, so it is not
    known until that rejection is (a later line of its channel being settled proves nothing)."""
    recorded = await store.recorded_events([k for k in keys if k])
    digests = Counter(await RejectionLog(store.pool).digests_since(started))
    fates: list[str | None] = [None] * len(lines)
    for index, line in enumerate(lines):
        digest = hashlib.sha256(line).digest()
        if digests[digest] > 0:
            digests[digest] -= 1
            fates[index] = "rejected"
    seen = set(known_before)
    for index, key in enumerate(keys):
        if fates[index] or key is None or key not in recorded:
            continue
        if key not in seen:
            fates[index] = "recorded"
            seen.add(key)
        elif same_payload(lines[index], recorded[key]):
            fates[index] = "duplicate"
    tally = Counter(fates)
    return Tally(len(lines), tally["recorded"], tally["duplicate"], tally["rejected"])

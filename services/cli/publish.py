"""`zs publish FILE.ndjson`: send envelopes as upstream systems would, each to its source's
channel `zs.ingest.<source>` (as that source's broker user where its password is known), then
report what became of them once the ingest has settled them.

The ingest reads each channel on its own, so messages of different channels have no order among
them: the lines are published in runs of one channel, and each run waits until the ones before
it are settled (a source's agreement may refer to a jobcenter another source registered).
"""

import asyncio
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

from events.rejections import RejectionLog
from events.store import EventStore
from infra.broker import create_transport
from infra.embedded import source_user, with_user
from infra.settings import SOURCE_NAME
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


def read_lines(path: Path) -> list[bytes]:
    """The non-blank lines of an NDJSON file, as bytes."""
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def idempotency_key(line: bytes) -> tuple[str, str] | None:
    """(source, message_id) of a line that names both, else None."""
    try:
        envelope = json.loads(line)
        key = (envelope["source"], envelope["message_id"])
    except (ValueError, TypeError, KeyError):
        return None
    return key if all(isinstance(part, str) for part in key) else None


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


def channel_url(broker_url: str, channel: str, passwords: Mapping[str, str]) -> str:
    """The URL to publish to `channel` with: as its source's broker user where that user's
    password is known (the embedded brokers), else `broker_url` as it is."""
    user = source_user(channel.removeprefix(f"{INGEST_CHANNEL}."))
    if channel != INGEST_CHANNEL and user in passwords:
        return with_user(broker_url, user, passwords[user])
    return broker_url


async def publish_file(
    store: EventStore,
    broker_url: str,
    path: Path,
    wait_s: float,
    console: Console,
    *,
    source: str | None = None,
    passwords: Mapping[str, str] | None = None,
    channels: Collection[str] | None = None,
) -> Tally | None:
    """Publish every line of `path`; wait up to `wait_s` for their fates; None if unknown."""
    return await publish_lines(
        store, broker_url, read_lines(path), wait_s, console, source=source,
        passwords=passwords, channels=channels,
    )  # fmt: skip


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
        while True:
            tally = await count(store, lines[:end], keys[:end], known_before, started)
            if tally.settled:
                return tally
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(POLL_S)

    routes = [channel_of(key, source, channels) for key in keys]
    end = 0
    with Progress(console=console, transient=True) as progress:
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
    """Recorded now (first time), duplicates (seen before or earlier in the file), rejected."""
    recorded_now = set(await store.find_recorded([k for k in keys if k])) - known_before
    occurrences = Counter(k for k in keys if k in recorded_now)
    repeats = sum(1 for k in keys if k in known_before) + sum(n - 1 for n in occurrences.values())
    rejected = await RejectionLog(store.pool).count_since(started)
    return Tally(len(lines), len(recorded_now), repeats, rejected)

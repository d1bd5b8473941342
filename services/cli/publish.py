"""`zs publish FILE.ndjson`: send envelopes to `zs.ingest` as an upstream system would, then
report what became of them once the ingest has settled them."""

import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from events.rejections import RejectionLog
from events.store import EventStore
from infra.broker import create_transport
from services.pipeline.channels import publish_envelopes

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


async def publish_file(
    store: EventStore, broker_url: str, path: Path, wait_s: float, console: Console
) -> Tally | None:
    """Publish every line of `path`; wait up to `wait_s` for their fates; None if unknown."""
    lines = read_lines(path)
    keys = [idempotency_key(line) for line in lines]
    named = [key for key in keys if key is not None]
    known_before = set(await store.find_recorded(named))
    started = await store.pool.fetchval(SERVER_NOW)
    transport = create_transport(broker_url)
    await transport.broker.connect()
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("publishing", total=len(lines))
            for start in range(0, len(lines), CHUNK):
                await publish_envelopes(transport, lines[start : start + CHUNK])
                progress.advance(task, len(lines[start : start + CHUNK]))
    finally:
        await transport.broker.stop()
    deadline = time.monotonic() + wait_s
    while True:
        tally = await count(store, lines, keys, known_before, started)
        if tally.settled:
            return tally
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(POLL_S)


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

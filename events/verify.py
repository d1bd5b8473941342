"""Verification of the hash chain over the whole log."""

from collections.abc import Callable

from pydantic import BaseModel

from events.chain import GENESIS_HASH, canonical_json, chain_hash
from events.log import RecordedEvent
from events.store import EventStore


class ChainVerdict(BaseModel):
    """The outcome of a verification: how far the chain holds, and where it breaks."""

    checked: int
    last_position: int
    broken_at: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        """True when every event links to its predecessor and hashes to its stored hash."""
        return self.broken_at is None


def recompute_hash(event: RecordedEvent) -> str:
    """The hash `event` must have, given its stored previous hash and its content."""
    return chain_hash(
        event.prev_hash,
        position=event.position,
        event_id=event.event_id,
        stream_id=event.stream_id,
        stream_version=event.stream_version,
        type=event.type,
        schema_version=event.schema_version,
        source=event.source,
        message_id=event.message_id,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        correlation_id=event.correlation_id,
        data_json=canonical_json(event.data),
        principal=event.principal,
        channel=event.channel,
    )


def find_break(event: RecordedEvent, expected_position: int, prev_hash: str) -> str | None:
    """Why `event` breaks the chain, or None when it continues it."""
    if event.position != expected_position:
        return f"position {expected_position} is missing (next is {event.position})"
    if event.prev_hash != prev_hash:
        return "prev_hash does not match the previous event's hash"
    if recompute_hash(event) != event.hash:
        return "content does not match its hash (altered after it was recorded)"
    return None


async def verify_chain(
    store: EventStore, on_page: Callable[[int], None] | None = None
) -> ChainVerdict:
    """Walk the log from position 1 and report the first position where the chain breaks."""
    prev_hash, checked = GENESIS_HASH, 0
    last_position = await store.last_position()
    async for page in store.read_all(until=last_position):
        for event in page:
            problem = find_break(event, checked + 1, prev_hash)
            if problem is not None:
                return ChainVerdict(
                    checked=checked,
                    last_position=last_position,
                    broken_at=checked + 1,
                    problem=problem,
                )
            prev_hash, checked = event.hash, checked + 1
        if on_page is not None:
            on_page(len(page))
    return ChainVerdict(checked=checked, last_position=last_position)

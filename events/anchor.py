"""Anchors: the chain's head (position, hash, time) signed with a key kept outside the database.

The hash chain shows any change *inside* the log, but not the loss of its last events: a log cut
short is still a valid chain. An anchor, kept elsewhere (a file, a ticket, a printed report),
fixes how far the log reached at a moment; a later log that is shorter than an anchor, or that
holds another hash at the anchored position, has been cut or rewritten.
"""

import base64
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict

from events.log import RecordedEvent
from events.store import EventStore


class Anchor(BaseModel):
    """A signed statement: the log held `hash` at `position` when it was anchored."""

    model_config = ConfigDict(frozen=True)

    position: int
    hash: str
    recorded_at: datetime
    anchored_at: datetime
    signature: str
    """Ed25519 over `signed_text()`, base64."""

    def signed_text(self) -> bytes:
        """What the signature covers."""
        return (
            f"zielsteuerung-anchor|{self.position}|{self.hash}|{self.recorded_at.isoformat()}|"
            f"{self.anchored_at.isoformat()}"
        ).encode()


async def event_at(store: EventStore, position: int) -> RecordedEvent | None:
    """The event at `position`, if the log holds one."""
    async for page in store.read_all(after=position - 1, until=position, page_size=1):
        return page[0]
    return None


async def anchor_head(store: EventStore, key: Ed25519PrivateKey) -> Anchor | None:
    """An anchor of the log's current head, signed with `key`; None for an empty log."""
    head = await event_at(store, await store.last_position())
    if head is None:
        return None
    unsigned = Anchor(
        position=head.position, hash=head.hash, recorded_at=head.recorded_at,
        anchored_at=datetime.now(UTC), signature="",
    )  # fmt: skip
    signature = base64.b64encode(key.sign(unsigned.signed_text())).decode()
    return unsigned.model_copy(update={"signature": signature})


async def check_anchor(store: EventStore, anchor: Anchor, key: Ed25519PublicKey) -> str | None:
    """What is wrong with the log against `anchor` (None: it still holds the anchored head)."""
    try:
        key.verify(base64.b64decode(anchor.signature), anchor.signed_text())
    except (InvalidSignature, ValueError):
        return "the anchor's signature does not verify: it was altered or signed by another key"
    event = await event_at(store, anchor.position)
    if event is None:
        head = await store.last_position()
        return f"the log ends at position {head}, before the anchored position {anchor.position}"
    if event.hash != anchor.hash:
        return f"position {anchor.position} holds hash {event.hash}, the anchor says {anchor.hash}"
    return None

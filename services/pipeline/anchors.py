"""Periodic anchors: the log's head signed into a directory outside the database.

With `ZS_ANCHOR_DIR` set, the relay process writes an anchor (`events/anchor.py`, the format of
`zs audit anchor`) every `ZS_ANCHOR_EVERY_S` seconds whenever the head moved since the last one.
Each file is named by its position (`anchor-000000000305.json`) and written whole under a
temporary name first, so relay replicas writing the same head leave one valid file, and a
reader never sees half of one. A failure (the database or the directory unavailable) is logged
and the next round tries again; nothing is lost but that round's anchor.
"""

import asyncio
import os
import re
from pathlib import Path

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.anchor import Anchor, anchor_head
from events.store import EventStore

log = structlog.get_logger()
FILE_PATTERN = re.compile(r"^anchor-(\d+)\.json$")


def anchor_file_name(position: int) -> str:
    """The file an anchor of `position` is written to (sorting by name sorts by position)."""
    return f"anchor-{position:012d}.json"


def anchored_position(path: Path) -> int | None:
    """The position an anchor file's name gives (None: not an anchor file)."""
    match = FILE_PATTERN.match(path.name)
    return int(match.group(1)) if match else None


def anchor_files(directory: Path) -> list[Path]:
    """The anchor files in `directory`, oldest position first."""
    return sorted(path for path in directory.iterdir() if anchored_position(path) is not None)


def last_anchored(directory: Path) -> int:
    """The highest position anchored in `directory` (0 when none is, or it does not exist)."""
    if not directory.is_dir():
        return 0
    return max((anchored_position(path) or 0 for path in anchor_files(directory)), default=0)


def write_anchor_file(directory: Path, anchor: Anchor) -> Path:
    """Write `anchor` into `directory` atomically; the file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / anchor_file_name(anchor.position)
    partial = directory / f".{path.name}.{os.getpid()}.tmp"
    partial.write_text(anchor.model_dump_json(indent=2) + "\n")
    os.replace(partial, path)
    return path


class Anchorer:
    """Anchors the head into `directory` every `every_s` seconds when it moved."""

    def __init__(
        self, store: EventStore, key: Ed25519PrivateKey, directory: Path, every_s: float
    ) -> None:
        self.store, self.key, self.directory, self.every_s = store, key, directory, every_s
        self.last: int | None = None
        """The last position anchored (None: not yet read from the directory)."""

    async def anchor_once(self) -> Path | None:
        """Anchor the head if it moved past the last anchor; the file written, if any."""
        if self.last is None:
            self.last = await asyncio.to_thread(last_anchored, self.directory)
        if await self.store.last_position() <= self.last:
            return None
        anchored = await anchor_head(self.store, self.key)
        if anchored is None:
            return None
        path = await asyncio.to_thread(write_anchor_file, self.directory, anchored)
        self.last = anchored.position
        log.info("head anchored", position=anchored.position, file=str(path))
        return path

    async def run(self) -> None:
        """Anchor at once and then every `every_s` seconds until cancelled, through failures."""
        while True:
            try:
                await self.anchor_once()
            except Exception as error:
                log.warning("anchoring failed; trying again", error=repr(error))
            await asyncio.sleep(self.every_s)

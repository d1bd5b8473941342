"""The rejection log: every message the ingest did not record, with its raw body, a code and a
reason (table `service.rejections`, one row per delivered message, never updated).

The only module with SQL on that table: the ingest adds, the API pages through, `zs publish`
counts.
"""

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg

KEPT_BODY_BYTES = 64 * 1024
"""How much of a raw body a rejection keeps (the whole body's size and sha256 are kept too)."""

INSERT_REJECTIONS = """
INSERT INTO service.rejections
    (delivery_id, source, message_id, code, reason, body, body_size, body_sha256, received_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[],
                     $7::bigint[], $8::bytea[], $9::timestamptz[])
ON CONFLICT (delivery_id, body_sha256) DO NOTHING
"""
SELECT_PAGE = """
SELECT source, message_id, code, reason, received_at, body, body_size, body_sha256,
       count(*) OVER () AS total
FROM service.rejections
WHERE ($1::text IS NULL OR source = $1) AND ($2::timestamptz IS NULL OR received_at >= $2)
ORDER BY id LIMIT $3 OFFSET $4
"""
DIGESTS_SINCE = "SELECT body_sha256 FROM service.rejections WHERE received_at >= $1"


@dataclass(frozen=True)
class StoredRejection:
    """One rejected message as the log keeps it."""

    delivery_id: str
    source: str | None
    message_id: str | None
    code: str
    reason: str
    body: bytes
    """The raw body as received (the log keeps its first `KEPT_BODY_BYTES`)."""
    received_at: datetime
    body_size: int | None = None
    """The whole body's size; None: `len(body)`."""
    body_sha256: bytes | None = None
    """The whole body's sha256; None: computed from `body`."""

    def kept(self) -> "StoredRejection":
        """As the log keeps it: at most `KEPT_BODY_BYTES` of the body, its size and digest."""
        return replace(
            self, body=self.body[:KEPT_BODY_BYTES], body_size=len(self.body),
            body_sha256=hashlib.sha256(self.body).digest(),
        )  # fmt: skip


def body_text(body: bytes) -> tuple[str, str]:
    """A raw body for JSON: (text, "utf-8"), or (base64, "base64") when it is not UTF-8."""
    try:
        return body.decode(), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), "base64"


class RejectionLog:
    """Adds and reads rejections."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def add(self, rejections: Sequence[StoredRejection]) -> None:
        """Store the rejections; a delivery already stored is kept as it was."""
        if not rejections:
            return
        kept = [rejection.kept() for rejection in rejections]
        await self.pool.execute(
            INSERT_REJECTIONS,
            [r.delivery_id for r in kept], [r.source for r in kept], [r.message_id for r in kept],
            [r.code for r in kept], [r.reason for r in kept], [r.body for r in kept],
            [r.body_size for r in kept], [r.body_sha256 for r in kept],
            [r.received_at for r in kept],
        )  # fmt: skip

    async def page(
        self, source: str | None, since: datetime | None, limit: int, offset: int
    ) -> tuple[list[StoredRejection], int]:
        """Rejections oldest first, filtered by source and time; with the total count."""
        rows = await self.pool.fetch(SELECT_PAGE, source, since, limit, offset)
        found = [
            StoredRejection(
                "",
                row["source"],
                row["message_id"],
                row["code"],
                row["reason"],
                bytes(row["body"]),
                row["received_at"],
                row["body_size"],
                bytes(row["body_sha256"]),
            )
            for row in rows
        ]
        return found, int(rows[0]["total"]) if rows else 0

    async def digests_since(self, moment: datetime) -> list[bytes]:
        """The sha256 of each body received at or after `moment` (one per rejection)."""
        return [bytes(row[0]) for row in await self.pool.fetch(DIGESTS_SINCE, moment)]

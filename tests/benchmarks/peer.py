"""The query API's peer in the `api` benchmark: a bare FastAPI + asyncpg endpoint that checks the
same Ed25519 bearer token on every request (no cache) and reads one row by key, served by one
process on uvloop with httptools' parser. The API's figures divided by this one's, measured in
the same run, are what travel between machines.

`python -m tests.benchmarks.peer --database-url URL --signing-key PEM --port N`
serves `GET /peer/agreements/{agreement_id}` (200 with the row, 404, or 401).
"""

import argparse
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Header, HTTPException

from infra.settings import Settings

SELECT_ROW = (
    "SELECT agreement_id, jobcenter_id, year FROM views.agreement_years WHERE agreement_id = $1"
)


def peer_app(database_url: str, public_key: Any, settings: Settings) -> FastAPI:
    """The peer's app: one pool, one route."""
    pool: asyncpg.Pool | None = None

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(database_url, min_size=2, max_size=10)
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/peer/agreements/{agreement_id}")
    async def agreement(
        agreement_id: str, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        try:
            jwt.decode(
                (authorization or "").removeprefix("Bearer "), public_key, algorithms=["EdDSA"],
                audience=settings.auth_audience, issuer=settings.auth_issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )  # fmt: skip
        except jwt.PyJWTError as error:
            raise HTTPException(401, str(error)) from None
        assert pool is not None
        row = await pool.fetchrow(SELECT_ROW, agreement_id)
        if row is None:
            raise HTTPException(404, "unknown agreement")
        return dict(row)

    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--signing-key", type=Path, required=True,
                        help="the local Ed25519 private key (PEM)")  # fmt: skip
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    private = serialization.load_pem_private_key(args.signing_key.read_bytes(), password=None)
    app = peer_app(args.database_url, private.public_key(), Settings())  # type: ignore[union-attr]
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="uvloop", http="httptools",
                log_level="warning", access_log=False)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

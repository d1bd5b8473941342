"""Outages are not the message's fault: while PostgreSQL cannot be reached, the ingest holds its
batch and retries; nothing is rejected, nothing is lost, and no delivery is counted for it."""

import asyncio
import json
import os

import asyncpg
import pytest

from events.verify import verify_chain
from services.bootstrap import Servers, services
from services.pipeline.channels import publish_envelopes
from services.pipeline.run import Part
from tests.factories import agreement_setup, figure_envelope, unique
from tests.integration.helpers import caught_up, eventually, settings_for, wipe_broker
from tests.integration.outage import CuttableProxy

REDELIVER_AFTER_S = 1.0
OUTAGE_S = float(os.environ.get("ZS_TEST_OUTAGE_S", "10"))
"""Longer than the old poison verdict took (5 deliveries of `REDELIVER_AFTER_S`); CI runs the
test once more with `ZS_TEST_OUTAGE_S=300`, a five-minute outage."""


@pytest.mark.slow
async def test_a_database_outage_rejects_nothing_and_loses_nothing(
    database_url: str, broker_url: str, owner_connection: asyncpg.Connection
) -> None:
    await wipe_broker(broker_url)
    jobcenter, agreement = unique("jc"), unique("agr")
    setup = [json.dumps(e).encode() for e in agreement_setup(jobcenter, agreement)]
    months = [f"{year}-{month:02d}" for year in (2020, 2021, 2022) for month in range(1, 13)]
    before = [json.dumps(figure_envelope(jobcenter, m)).encode() for m in months[:12]]
    during = [json.dumps(figure_envelope(jobcenter, m)).encode() for m in months[12:]]
    proxy = CuttableProxy(database_url)
    async with proxy.serving():
        urls = Servers(proxy.proxied_url, broker_url)
        settings = settings_for(urls).model_copy(update={"redeliver_after_s": REDELIVER_AFTER_S})
        async with services(settings, urls, set(Part), api=True) as running:
            await publish_envelopes(running.transport, [*setup, *before])
            await eventually(lambda: caught_up(running.store), "the first figures")
            proxy.cut()
            await publish_envelopes(running.transport, during)
            await asyncio.sleep(OUTAGE_S)
            proxy.restore()
            expected = len(setup) + len(before) + len(during)

            async def all_recorded() -> bool:
                return await running.store.last_position() == expected

            await eventually(all_recorded, "every figure recorded after the outage", 60)
            await eventually(lambda: caught_up(running.store), "the projections", 60)
            verdict = await verify_chain(running.store)

    assert await owner_connection.fetchval("SELECT count(*) FROM service.rejections") == 0
    assert await owner_connection.fetchval("SELECT count(*) FROM views.figures") == len(months)
    assert verdict.intact

"""Periodic anchors: the relay process signs the log's head into `ZS_ANCHOR_DIR` whenever it
moved, keeps doing so after the database was unreachable, and `zs audit verify --anchor DIR`
reveals a log cut short behind them."""

import asyncio
from pathlib import Path

import asyncpg
import pytest

from events.store import EventStore
from infra.settings import Settings
from services.bootstrap import Servers, services
from services.pipeline.anchors import anchor_files, anchored_position, last_anchored
from services.pipeline.run import Part
from tests.conftest import TEST_DATA_DIR
from tests.factories import figure_event
from tests.integration.helpers import eventually, settings_for
from tests.integration.outage import CuttableProxy
from tests.integration.processes import run_zs

EVERY_S = 0.1
OUTAGE_ROUNDS_S = 1.0
"""How long the database stays cut off: about ten rounds of anchoring fail meanwhile."""


def anchoring(urls: Servers, anchor_dir: Path) -> Settings:
    """Settings of a relay anchoring every `EVERY_S` into `anchor_dir`, signing with the local
    key of the tests' data folder (the one `run_zs` gives `zs audit`, with the services'
    passwords: another folder would give the server's logins new ones)."""
    return settings_for(urls).model_copy(
        update={"anchor_dir": anchor_dir, "anchor_every_s": EVERY_S, "data_dir": TEST_DATA_DIR}
    )


async def anchored(directory: Path, position: int) -> None:
    """Wait until `directory` holds an anchor of `position`."""
    await eventually(lambda: last_anchored(directory) == position, f"an anchor of {position}")


@pytest.mark.slow
@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
async def test_the_relay_anchors_each_new_head_and_verify_finds_the_log_cut_short(
    urls: Servers, store: EventStore, owner_connection: asyncpg.Connection, tmp_path: Path
) -> None:
    directory = tmp_path / ".zs" / "anchors"
    async with services(anchoring(urls, directory), urls, {Part.RELAY}):
        await store.append([figure_event() for _ in range(4)])
        await anchored(directory, 4)
        first = (directory / "anchor-000000000004.json").read_text()
        for head in (8, 12):
            await store.append([figure_event() for _ in range(4)])
            await anchored(directory, head)
    held = run_zs("audit", "verify", "--anchor", str(directory), database_url=urls.database_url,
                  cwd=tmp_path)  # fmt: skip
    await owner_connection.execute("ALTER TABLE store.events DISABLE TRIGGER USER")
    await owner_connection.execute("DELETE FROM store.events WHERE position >= 10")
    cut = run_zs("audit", "verify", "--anchor", str(directory), database_url=urls.database_url,
                 cwd=tmp_path)  # fmt: skip

    assert [anchored_position(path) for path in anchor_files(directory)] == [4, 8, 12]
    assert (directory / "anchor-000000000004.json").read_text() == first  # written once
    assert held.returncode == 0, held.stderr
    assert f"anchors in {directory}: the log still holds all 3" in held.stdout
    assert "chain intact: 9 events verified" in cut.stdout
    assert cut.returncode == 1
    assert "anchor-000000000012.json (position 12): the log ends at position 9" in cut.stderr


@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
async def test_anchoring_goes_on_after_the_database_was_unreachable(
    urls: Servers, store: EventStore, tmp_path: Path
) -> None:
    proxy = CuttableProxy(urls.database_url)
    async with proxy.serving():
        through_proxy = Servers(proxy.proxied_url, urls.broker_url)
        directory = tmp_path / "anchors"
        async with services(anchoring(through_proxy, directory), through_proxy, {Part.RELAY}):
            await store.append([figure_event() for _ in range(3)])
            await anchored(directory, 3)
            proxy.cut()
            await store.append([figure_event() for _ in range(3)])  # not through the proxy
            await asyncio.sleep(OUTAGE_ROUNDS_S)  # rounds of anchoring fail meanwhile
            during = last_anchored(directory)
            proxy.restore()
            await anchored(directory, 6)

    assert during == 3
    assert [anchored_position(path) for path in anchor_files(directory)] == [3, 6]

"""The `zs` command as a user runs it: audit verify and schema export."""

import json
from pathlib import Path

import asyncpg
import pytest

from events.catalogue import CATALOGUE
from events.store import EventStore
from projections.engine.runner import ProjectionRunner
from projections.registry import PROJECTIONS
from tests.factories import figure_event
from tests.integration.processes import run_zs


@pytest.mark.slow
async def test_audit_verify_passes_on_a_sound_chain(store: EventStore, database_url: str) -> None:
    await store.append([figure_event() for _ in range(12)])

    result = run_zs("audit", "verify", database_url=database_url)

    assert result.returncode == 0, result.stderr
    assert "chain intact: 12 events verified" in result.stdout


async def test_audit_verify_names_the_first_tampered_position(
    store: EventStore, database_url: str, owner_connection: asyncpg.Connection
) -> None:
    await store.append([figure_event() for _ in range(12)])
    await owner_connection.execute("SET session_replication_role = replica")
    await owner_connection.execute(
        "UPDATE store.events SET occurred_at = occurred_at + interval '1 day' WHERE position = 7"
    )
    await owner_connection.execute("UPDATE store.events SET data = '{}'::jsonb WHERE position = 9")

    result = run_zs("audit", "verify", database_url=database_url)

    assert result.returncode == 1
    assert "chain broken at position 7" in result.stderr


def test_schema_export_writes_one_schema_per_event_type(tmp_path: Path) -> None:
    result = run_zs("schema", "export", str(tmp_path / "schemas"))

    assert result.returncode == 0, result.stderr
    written = sorted(path.name for path in (tmp_path / "schemas").iterdir())
    assert len(written) == len(CATALOGUE.event_types()) + 1
    assert "MonthlyFigureReported.v1.schema.json" in written
    assert "Envelope.schema.json" in written
    envelope = json.loads((tmp_path / "schemas" / "Envelope.schema.json").read_text())
    assert envelope["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert envelope["$id"] == "urn:zielsteuerung:schema:v1:Envelope.schema.json"


def test_asyncapi_export_writes_the_channels(tmp_path: Path) -> None:
    result = run_zs("asyncapi", "export", str(tmp_path / "asyncapi.json"))

    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "asyncapi.json").read_text())
    assert set(document["channels"]) == {"zs.ingest", "zs.events", "zs.rejected"}


@pytest.mark.slow
async def test_an_anchor_reveals_a_log_cut_short_or_rewritten(
    store: EventStore, database_url: str, owner_connection: asyncpg.Connection, tmp_path: Path
) -> None:
    await store.append([figure_event() for _ in range(5)])
    anchor = tmp_path / "anchor.json"
    written = run_zs("audit", "anchor", "--out", str(anchor), database_url=database_url,
                     cwd=tmp_path)  # fmt: skip
    held = run_zs("audit", "verify", "--anchor", str(anchor), database_url=database_url,
                  cwd=tmp_path)  # fmt: skip
    await owner_connection.execute("ALTER TABLE store.events DISABLE TRIGGER USER")
    await owner_connection.execute("DELETE FROM store.events WHERE position >= 4")
    cut = run_zs("audit", "verify", "--anchor", str(anchor), database_url=database_url,
                 cwd=tmp_path)  # fmt: skip
    forged = anchor.read_text().replace('"position": 5', '"position": 3')
    (tmp_path / "forged.json").write_text(forged)
    altered = run_zs("audit", "verify", "--anchor", str(tmp_path / "forged.json"),
                     database_url=database_url, cwd=tmp_path)  # fmt: skip

    assert written.returncode == 0, written.stderr
    assert held.returncode == 0, held.stderr
    assert "chain intact: 3 events verified" in cut.stdout
    assert (cut.returncode, "before the anchored position 5" in cut.stderr) == (1, True)
    assert (altered.returncode, "signature does not verify" in altered.stderr) == (1, True)


@pytest.mark.slow
async def test_verify_views_names_a_read_model_changed_behind_the_log(
    store: EventStore, database_url: str, owner_connection: asyncpg.Connection
) -> None:
    await store.append([figure_event(f"figures-{n}", jobcenter_id=f"jc{n}") for n in range(8)])
    runner = ProjectionRunner(store.pool, store, PROJECTIONS)
    await runner.catch_up()
    equal = run_zs("audit", "verify", "--views", database_url=database_url)
    await owner_connection.execute(
        "UPDATE views.figures SET value = 9999 WHERE jobcenter_id = 'jc3'"
    )
    forged = run_zs("audit", "verify", "--views", database_url=database_url)

    assert equal.returncode == 0, equal.stderr
    assert "view figures: equal to its recomputation from the log" in equal.stdout
    assert forged.returncode == 1
    assert "view figures differs from the log: views.figures" in forged.stderr
    assert "jc3" in forged.stderr

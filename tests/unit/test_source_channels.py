"""Where `zs publish` sends each line, and which source names may have a channel."""

import pytest
from pydantic import ValidationError

from infra.settings import Settings
from services.cli.publish import channel_of, channel_url

BROKER = "redis://zs-services:secret@127.0.0.1:6379/0"


def test_a_line_goes_to_its_sources_channel_where_that_source_has_one() -> None:
    assert channel_of(("hmsi", "m-1"), None, None) == "zs.ingest.hmsi"
    assert channel_of(("hmsi", "m-1"), None, ["hmsi"]) == "zs.ingest.hmsi"
    assert channel_of(("nobody", "m-1"), None, ["hmsi"]) == "zs.ingest"
    assert channel_of(None, None, None) == "zs.ingest"
    assert channel_of(("Not A Slug", "m-1"), None, None) == "zs.ingest"


def test_a_named_source_takes_every_line() -> None:
    assert channel_of(("hmsi", "m-1"), "ba-statistik", ["hmsi"]) == "zs.ingest.ba-statistik"
    assert channel_of(None, "ba-statistik", None) == "zs.ingest.ba-statistik"


def test_a_source_channel_is_written_as_its_sources_user_where_known() -> None:
    passwords = {"zs-services": "secret", "source-hmsi": "p/w"}

    assert channel_url(BROKER, "zs.ingest.hmsi", passwords) == (
        "redis://source-hmsi:p%2Fw@127.0.0.1:6379/0"
    )
    assert channel_url(BROKER, "zs.ingest.bmas", passwords) == BROKER
    assert channel_url(BROKER, "zs.ingest", passwords) == BROKER


def test_broker_sources_are_slugs_listed_once() -> None:
    settings = Settings(broker_sources=" hmsi, ba-statistik,hmsi ,")

    assert settings.source_names == ["hmsi", "ba-statistik"]
    with pytest.raises(ValidationError, match="not a slug"):
        Settings(broker_sources="hmsi,ba.statistik")

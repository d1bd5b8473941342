"""The ingest's settle policy: outages are waited out, a failing message is split off at once
and rejected as poison after a few tries of its own; its neighbours are settled meanwhile."""

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest

from events.store import StoreUnavailable
from services.pipeline import settle as policy
from services.pipeline.channels import Delivery


class Handler:
    """Settles batches, failing every batch that holds a delivery named `bad`."""

    def __init__(self, bad: str = "", outages: int = 0) -> None:
        self.bad, self.outages = bad, outages
        self.settled: list[str] = []
        self.calls: list[list[str]] = []

    async def __call__(self, deliveries: Sequence[Delivery]) -> None:
        ids = [d.delivery_id for d in deliveries]
        self.calls.append(ids)
        if self.outages:
            self.outages -= 1
            raise StoreUnavailable("append failed") from ConnectionRefusedError(111, "refused")
        if self.bad in ids:
            raise RecursionError("this message breaks the handler")
        self.settled += ids


class Poison(list[tuple[str, str]]):
    async def __call__(self, delivery: Delivery, reason: str) -> None:
        self.append((delivery.delivery_id, reason))


def batch(*ids: str) -> list[Delivery]:
    return [Delivery(b"{}", delivery_id) for delivery_id in ids]


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy, "FIRST_PAUSE_S", 0.001)


async def test_one_bad_message_is_split_off_and_its_neighbours_are_settled() -> None:
    handler, poison = Handler(bad="b"), Poison()

    await policy.settle(handler, poison, batch("a", "b", "c"))

    assert handler.settled == ["a", "c"]
    assert [delivery_id for delivery_id, _ in poison] == ["b"]
    assert "RecursionError" in poison[0][1]
    assert handler.calls.count(["b"]) == policy.SOLO_ATTEMPTS


async def test_an_outage_is_waited_out_without_splitting_or_poisoning() -> None:
    handler, poison = Handler(outages=4), Poison()

    await policy.settle(handler, poison, batch("a", "b"))

    assert handler.settled == ["a", "b"]
    assert handler.calls == [["a", "b"]] * 5
    assert poison == []


async def test_an_outage_never_ends_in_a_verdict_while_it_lasts() -> None:
    handler, poison = Handler(outages=10**9), Poison()

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await policy.settle(handler, poison, batch("a"))

    assert poison == []
    assert len(handler.calls) > 3


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (ConnectionRefusedError(111, "refused"), True),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), True),
        (asyncpg.exceptions.CannotConnectNowError("starting up"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed"), True),
        (asyncpg.InternalClientError("cannot switch to state 12"), True),  # a session cut mid-call
        (asyncpg.exceptions.CharacterNotInRepertoireError("0x00"), False),
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), False),
        (RecursionError("deep"), False),
        (ValueError("bad"), False),
    ],
)
def test_outages_are_told_from_a_message_s_own_failures(error: Exception, outage: bool) -> None:
    wrapped = StoreUnavailable("failed")
    wrapped.__cause__ = error

    assert policy.is_outage(error) is outage
    assert policy.is_outage(wrapped) is outage

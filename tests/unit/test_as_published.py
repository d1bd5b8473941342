"""'As published' beside 'as known', on the backfill example of docs/domain.md section 7: the
history of 2023 recorded in one go in March 2024 (no IO: a store of plain lists)."""

from datetime import UTC, datetime

from events.log import RecordedEvent, Selection
from services.replay import attainment_at, attainment_published
from tests.unit.attainment_log import Log


class ListStore:
    """The one read `services.replay` needs, from a list of recorded events."""

    pool = None

    def __init__(self, events: list[RecordedEvent]) -> None:
        self.events = events

    async def select(self, _: None, selection: Selection) -> list[RecordedEvent]:
        return [e for e in self.events if selection.matches(e)]


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def backfill() -> ListStore:
    """Agreement 2023 (at least 700 integrations), concluded in February 2023; January
    published in April (60) and corrected in July (62); all recorded on 10 March 2024."""
    log = Log(year=2023)
    log.conclude()
    log.target("integrations-total", 700)
    log.events = [e.model_copy(update={"occurred_at": at("2023-02-15")}) for e in log.events]
    log.figure(1, 60, published=at("2023-04-27"))
    log.figure(1, 62, corrected=True, published=at("2023-07-27"))
    return ListStore(log.events)


async def actual(store: ListStore, published: str) -> object:
    answer = await attainment_published(store, "odw-2021", 4, at(published))  # type: ignore[arg-type]
    return None if answer is None else answer.targets[0].actual


async def test_as_published_takes_only_what_had_appeared_by_then() -> None:
    store = backfill()

    assert await actual(store, "2023-01-31") is None  # the agreement was not concluded yet
    assert await actual(store, "2023-03-01") is None  # concluded, no month published: no actual
    assert await actual(store, "2023-05-01") == 60  # what the ministry saw in May 2023
    assert await actual(store, "2023-08-01") == 62  # the correction had appeared


async def test_the_two_clocks_combine() -> None:
    store = backfill()

    # As known with only the agreement recorded (position 2), whatever was published by then.
    known_then = await attainment_at(store, "odw-2021", 2)  # type: ignore[arg-type]
    published_known_then = await attainment_published(
        store,  # type: ignore[arg-type]
        "odw-2021",
        2,
        at("2023-08-01"),
    )
    now = await attainment_at(store, "odw-2021", 4)  # type: ignore[arg-type]

    assert known_then is not None and known_then.targets[0].actual is None
    assert published_known_then is not None and published_known_then.targets[0].actual is None
    assert now is not None and now.targets[0].actual == 62

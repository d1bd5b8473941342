"""Stored figure events decoded without validating them again: a rebuild reads millions.

Invariant: `trusted_figure` gives exactly what `CATALOGUE.decode` gives for a stored figure event
(tests/unit/test_rebuild_reading.py): the store's rows were validated when they were appended,
so the latest schema version is taken as it is (its numbers as the catalogue's validation makes
them); an older schema version goes through the catalogue, which upcasts it. Pure (no IO).
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from events.catalogue import (
    CATALOGUE,
    FIGURE_TYPES,
    FigureEvent,
    MonthlyFigureCorrected,
    MonthlyFigureReported,
)
from events.log import RecordedEvent

FIGURE_MODELS: dict[str, type[FigureEvent]] = {
    model.event_type: model for model in (MonthlyFigureReported, MonthlyFigureCorrected)
}
NUMBERS = ("value", "numerator", "denominator")


def _number(value: Any) -> Decimal | None:
    """A JSON number as the catalogue's validation makes it (an int, or a float by its repr)."""
    return None if value is None else Decimal(str(value))


def trusted_figure(recorded: RecordedEvent) -> FigureEvent:
    """The typed data of a stored figure event, equal to `CATALOGUE.decode`'s, without
    validating it again (an older schema version is upcast by the catalogue)."""
    model = FIGURE_MODELS[recorded.type]
    if recorded.schema_version != CATALOGUE.latest_version(recorded.type):
        figure = CATALOGUE.decode(
            recorded.type, recorded.schema_version, recorded.data, stored=True
        )
        assert isinstance(figure, FigureEvent)  # FIGURE_TYPES decode to figure events
        return figure
    data: Mapping[str, Any] = recorded.data
    fields = {name: data[name] for name in data if name not in NUMBERS}
    for name in NUMBERS:
        if name in data:
            fields[name] = _number(data[name])
    return model.model_construct(**fields)


def is_figure(recorded: RecordedEvent) -> bool:
    """Whether the event publishes a monthly figure."""
    return recorded.type in FIGURE_TYPES

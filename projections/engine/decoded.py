"""Stored events' data decoded once per process, whichever projection asks first.

Several projections read the same events (figures, key figures and attainment each read every
figure); each decoded them with the catalogue (pydantic validation and upcasting) again.
Invariant: the log is immutable and an `event_id` names one stored event, so its decoded data
(a frozen model) never changes; the cache keeps the `CAPACITY` most recently added.
"""

from collections import OrderedDict
from uuid import UUID

from events.catalogue import CATALOGUE, DomainEvent
from events.log import RecordedEvent

CAPACITY = 20_000
"""Decoded events kept: two live pages (a few KiB each, so tens of MiB at most)."""

_decoded: OrderedDict[UUID, DomainEvent] = OrderedDict()
"""Oldest first (`popitem(last=False)` is O(1); deleting a plain dict's first key is not)."""


def stored_data(event: RecordedEvent) -> DomainEvent:
    """The typed data of a stored event (validated and upcast by the catalogue), decoded once."""
    found = _decoded.get(event.event_id)
    if found is None:
        found = CATALOGUE.decode(event.type, event.schema_version, event.data, stored=True)
        if len(_decoded) >= CAPACITY:
            _decoded.popitem(last=False)
        _decoded[event.event_id] = found
    return found

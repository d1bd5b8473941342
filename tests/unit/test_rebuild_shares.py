"""A rebuild's groups of streams dealt into shares for its workers: every group in exactly one
share, whole, the shares about equal in events."""

import pickle
import random

from events.store import Group
from projections.engine.rebuild import SHARE_EVENTS, Share, deal
from projections.registry import PROJECTIONS


def groups(count: int, seed: int) -> list[Group]:
    rng = random.Random(seed)
    return [([f"figures-{i}", f"agreement:{i}"], rng.randint(100, 900)) for i in range(count)]


def test_every_group_lands_in_one_share_whole() -> None:
    found = groups(404, 1)

    shares = deal(found, 8)

    assert len(shares) == 8
    assert sorted(g for share in shares for g in share.groups) == sorted(found)
    assert sum(share.events for share in shares) == sum(count for _, count in found)


def test_shares_are_about_equal_in_events() -> None:
    shares = deal(groups(404, 2), 8)

    sizes = [share.events for share in shares]
    assert max(sizes) - min(sizes) <= 900  # at most the largest group apart


def test_few_events_give_fewer_shares_and_none_give_none() -> None:
    three = [(["a"], SHARE_EVENTS), (["b"], SHARE_EVENTS), (["c"], SHARE_EVENTS)]
    assert [share.groups for share in deal(three, 8)] == [(g,) for g in three]
    assert len(deal([(["a"], SHARE_EVENTS), (["b"], SHARE_EVENTS - 1)], 8)) == 1
    assert deal([], 8) == []
    assert deal(groups(5, 4), 1) == [Share(tuple(sorted(groups(5, 4))))]


def test_every_rebuild_travels_to_a_worker_process() -> None:
    for projection in PROJECTIONS:
        rebuild = projection.rebuild()
        assert type(pickle.loads(pickle.dumps(rebuild))) is type(rebuild)

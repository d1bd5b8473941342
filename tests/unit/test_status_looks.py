"""`/health`, `/ready` and `/metrics` share the look under way: callers that come during a look
get its result; the first caller after it ends starts a fresh one; a caller that gives up does
not cancel the look for the others."""

import asyncio

from services.api.status import Looks, Status


class Counted:
    """A look that waits for `done` and answers with its own number."""

    def __init__(self) -> None:
        self.started = 0
        self.done = asyncio.Event()

    async def __call__(self) -> Status:
        self.started += 1
        number = self.started
        await self.done.wait()
        return Status(position=number)


async def test_callers_during_a_look_share_it_and_the_next_starts_afresh() -> None:
    looking = Counted()
    shared = Looks(looking)
    callers = [asyncio.ensure_future(shared()) for _ in range(20)]
    await asyncio.sleep(0)
    looking.done.set()

    answers = await asyncio.gather(*callers)
    later = await shared()

    assert [answer.position for answer in answers] == [1] * 20
    assert later.position == 2
    assert looking.started == 2


async def test_a_caller_that_gives_up_spares_the_look_for_the_others() -> None:
    looking = Counted()
    shared = Looks(looking)
    leaving, staying = asyncio.ensure_future(shared()), asyncio.ensure_future(shared())
    await asyncio.sleep(0)
    leaving.cancel()
    await asyncio.sleep(0)
    looking.done.set()

    assert (await staying).position == 1
    assert leaving.cancelled()
    assert looking.started == 1

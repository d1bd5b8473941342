"""The attainment fold state's JSON (`projections.attainment.codec`): decoding what was encoded
gives the state back, also when encoding reuses the texts of the parts it encoded before."""

import json
from decimal import Decimal

from projections.attainment.calculation import State, apply, fold
from projections.attainment.codec import decode_state, encode_state
from projections.attainment.inputs import decode
from tests.unit.attainment_log import AGREEMENT, Log


def folded(log: Log) -> State:
    state = fold(AGREEMENT, log.events)
    assert state is not None
    return state


def round_trip(state: State) -> State:
    return decode_state(json.loads(encode_state(state)))


def test_a_state_decodes_to_itself_decimals_as_written(log: Log) -> None:
    log.target("t", "66.50", aggregation="mean")
    log.agreement(
        "TargetAmended",
        target_id="t",
        value="70.0",
        effective_from="2021-03-01",
        reason="Nachsteuerung",
    )
    log.figures(["1.10", "2", "3E+2"])
    log.figure(2, "2.50", corrected=True)
    log.figure(4, 1, "rate", numerator="3", denominator="4")
    state = folded(log)
    again = round_trip(state)
    assert again == state
    assert again.targets["t"].value == Decimal("66.50")
    assert str(again.figures[("integrations", "total", 2021, 3)][1].value) == "3E+2"


def test_encoding_again_after_changes_equals_encoding_afresh(log: Log) -> None:
    log.target("t", 10)
    log.figures([1, 2, 3])
    state = folded(log)
    encode_state(state)  # keeps the texts of its parts
    folded_before = len(log.events)
    log.figure(2, 5, corrected=True)  # replaces a figure in force
    log.figure(5, 7)  # adds one
    log.agreement("TargetWithdrawn", target_id="t", reason="entfällt")
    log.target("u", 20, indicator="elb_stock", aggregation="last")
    for recorded in log.events[folded_before:]:
        apply(state, recorded, decode(recorded))
    fresh = folded(log)
    assert state == fresh
    assert json.loads(encode_state(state)) == json.loads(encode_state(fresh))
    assert round_trip(state) == fresh

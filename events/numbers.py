"""How computed numbers are presented in answers: exact decimals inside, at most two decimals in
JSON (`2054.33`, not `2054.3333333333335`). Counts and other integral values stay exact."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import PlainSerializer

ANSWER_DECIMALS = Decimal("0.01")


def answer_number(value: Decimal) -> int | float:
    """`value` rounded half up to 2 decimals, as a JSON number: an int when integral."""
    rounded = value.quantize(ANSWER_DECIMALS, rounding=ROUND_HALF_UP)
    return int(rounded) if rounded == rounded.to_integral_value() else float(rounded)


Presented = Annotated[Decimal, PlainSerializer(answer_number, when_used="json")]
"""A Decimal computed exactly, presented in JSON as a number rounded to 2 decimals: the one
rounding of computed values in the query API's answers (means, forecasts, percentages)."""

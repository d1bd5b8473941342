"""A national workload: every jobcenter of Germany, its yearly agreements and monthly figures.

`national_workload(jobcenters=404, years=10, seed=1)` yields the messages upstream systems
would publish, in publication order (by `occurred_at`), deterministically by seed and in
constant memory (one calendar month of messages at a time). Each item is an envelope (a dict),
or, for the few hostile messages that are not even JSON, the raw bytes.

Per jobcenter and year: an agreement with twelve targets on every aggregation (gender splits,
one budget-linked target), a budget line with two deviations, two qualitative goals, two
dialogues, an amendment mid-year and the close after the year; 18 monthly series published
with the BA's three-month lag, about 2 % corrected three months later. About 0.1 % of the
messages are hostile (not JSON, unknown type, unknown jobcenter, negative count, oversize);
hostile envelopes carry `source` = `HOSTILE_SOURCE` so the accounting can tell them apart.

Run `python -m tests.benchmarks.national --jobcenters 404 --years 10 --seed 1 > load.ndjson`.

Its size: every kind of message of a national year is made here, so that the publication
order and the determinism by seed can be checked in one place.
"""

import argparse
import json
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from events.catalogue import parse_envelope
from events.log import NewEvent
from events.recording import new_event
from services.cli.national import LAENDER as DEMO_LAENDER

Envelope = dict[str, Any]
Message = Envelope | bytes
"""An envelope, or the raw body of a message that is not JSON."""

LAST_YEAR = 2025
"""The last agreement year: its figures, corrections and close all lie before 2026-07."""
HOSTILE_SOURCE = "bench-hostile"
BA = "ba-statistik"
AGREEMENT_SOURCE = "zv-portal"
LAG = 3  # months between a period's end and the BA's publication
CORRECTION_LAG = 3  # further months until a correction
CORRECTION_SHARE = 0.02
HOSTILE_SHARE = 0.001
OVERSIZE_BYTES = 70_000
CORRECTION_REASON = "Revision der BA-Statistik nach Ablauf der dreimonatigen Wartezeit"
BUDGET_LINE = "eingliederung"

# Land: (ISO code, district-key prefix, jobcenters); 404 in all: the national demo's table.
LAENDER: tuple[tuple[str, str, int], ...] = tuple(row[:3] for row in DEMO_LAENDER)
NATIONAL_JOBCENTERS = sum(count for _, _, count in LAENDER)
ZKT_SHARE = 104 / 404
LAND_MINISTRY = {row[0]: row[4] for row in DEMO_LAENDER}
REGIONAL_DIRECTORATE = "Bundesagentur für Arbeit, Regionaldirektion"

# Series: (indicator, breakdowns, kind); kind decides how a month's value is drawn.
SERIES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("integrations", ("total", "women", "men"), "integrations"),
    ("ltb_stock", ("total", "women", "men"), "ltb"),
    ("elb_stock", ("total", "women", "men"), "elb"),
    ("llu_eur", ("total",), "llu"),
    ("k2", ("total", "women", "men"), "k2"),
    ("k2e3", ("total",), "k2e3"),
    ("k3e2", ("total",), "k3e2"),
    ("k1e3", ("total",), "k1e3"),
    ("k1e4", ("total",), "k1e4"),
    ("u25_training_integrations", ("total",), "u25"),
)
SERIES_PER_JOBCENTER = sum(len(breakdowns) for _, breakdowns, _ in SERIES)  # 18
WOMEN_SHARE = {"total": 1.0, "women": 0.45, "men": 0.55}
SEASON = (0.92, 0.95, 1.08, 1.04, 1.02, 1.0, 0.97, 1.03, 1.12, 1.03, 0.98, 0.86)

# Targets: (target_id, indicator, breakdown, comparator, unit, aggregation).
TARGETS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("integrations-total", "integrations", "total", "at_least", "count", "sum"),
    ("integrations-women", "integrations", "women", "at_least", "count", "sum"),
    ("integrations-men", "integrations", "men", "at_least", "count", "sum"),
    ("ltb-total", "ltb_stock", "total", "at_most", "count", "mean"),
    ("ltb-women", "ltb_stock", "women", "at_most", "count", "mean"),
    ("ltb-men", "ltb_stock", "men", "at_most", "count", "mean"),
    ("k2-total", "k2", "total", "at_least", "percent", "quota"),
    ("k2e3-total", "k2e3", "total", "at_least", "percent", "ratio"),
    ("k1e3-total", "k1e3", "total", "at_most", "percent", "mean_rate"),
    ("k3e2-total", "k3e2", "total", "at_least", "percent", "last"),
    ("llu-change", "llu_eur", "total", "at_most", "percent", "change_of_sum"),
    ("elb-change", "elb_stock", "total", "at_most", "percent", "change_of_mean"),
)


@dataclass(frozen=True)
class Jobcenter:
    """One jobcenter: district key, Land, kind and size (its mean ELB stock)."""

    jobcenter_id: str
    name: str
    land: str
    kind: str
    elb: float
    offset_s: int
    """Seconds after 08:00 at which its monthly figures are published (spreads the load)."""


def land_counts(jobcenters: int) -> list[tuple[str, str, int]]:
    """The national distribution scaled to `jobcenters` (largest remainder, at least 1 each
    while there are enough)."""
    shares = [
        (land, prefix, count * jobcenters / NATIONAL_JOBCENTERS) for land, prefix, count in LAENDER
    ]
    counts = [int(share) for _, _, share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i][2] % 1), i))
    for index in by_remainder[: jobcenters - sum(counts)]:
        counts[index] += 1
    return [(land, prefix, n) for (land, prefix, _), n in zip(shares, counts, strict=True)]


def make_jobcenters(count: int, rng: random.Random) -> list[Jobcenter]:
    """`count` jobcenters with district-key-like ids, ~26 % of them zkT."""
    result = []
    for land, prefix, n in land_counts(count):
        keys = sorted(rng.sample(range(101, 999), n))
        for key in keys:
            district = f"{prefix}{key:03d}"
            kind = "zkT" if rng.random() < ZKT_SHARE else "gE"
            label = "Kommunales Jobcenter" if kind == "zkT" else "Jobcenter"
            elb = 150_000.0 if land == "DE-HH" else rng.lognormvariate(9.0, 0.7)
            result.append(
                Jobcenter(
                    district, f"{label} {district}", land, kind, round(elb, 0), rng.randrange(3600)
                )
            )
    return result


def month_index(year: int, month: int) -> int:
    """Months since year 0, so that arithmetic across years is plain addition."""
    return year * 12 + month - 1


def period_of(index: int) -> str:
    """`YYYY-MM` of a month index."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def at(index: int, day: int, seconds: int = 0) -> str:
    """An ISO UTC time on `day` of the month `index`, 08:00 plus `seconds`."""
    hours, rest = divmod(8 * 3600 + seconds, 3600)
    return f"{period_of(index)}-{day:02d}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def envelope(
    message_id: str, source: str, type_: str, occurred_at: str, data: Envelope
) -> Envelope:
    """A v1 envelope."""
    return {
        "message_id": message_id,
        "source": source,
        "type": type_,
        "schema_version": 1,
        "occurred_at": occurred_at,
        "data": data,
    }


class NationalWorkload:
    """The generator's state: jobcenters, their agreements' plans and the random stream."""

    def __init__(self, jobcenters: int, years: int, seed: int, last_year: int) -> None:
        if jobcenters < 1 or years < 1:
            raise ValueError("need at least one jobcenter and one year")
        self.rng = random.Random(seed)
        self.jobcenters = make_jobcenters(jobcenters, self.rng)
        self.first_year, self.last_year = last_year - years + 1, last_year
        self.seq = 0

    def messages(self) -> Iterator[Message]:
        """Every message, month by month, each month's in `occurred_at` order."""
        first = month_index(self.first_year, 1)
        last = month_index(self.last_year + 1, 12)
        for index in range(first, last + 1):
            batch = self.month(index)
            batch.sort(key=lambda item: (item[0], item[1]))
            hostile = self.hostile_count(len(batch))
            for _ in range(hostile):
                slot = self.rng.randrange(len(batch) + 1)
                batch.insert(slot, ("", -1, self.hostile(index)))
            for _, _, message in batch:
                yield message

    def hostile_count(self, size: int) -> int:
        """About `HOSTILE_SHARE` of `size`, rounded at random."""
        expected = size * HOSTILE_SHARE
        whole = int(expected)
        return whole + (1 if self.rng.random() < expected - whole else 0)

    def month(self, index: int) -> list[tuple[str, int, Message]]:
        """(occurred_at, sequence, envelope) of everything published in month `index`."""
        out: list[tuple[str, int, Message]] = []
        year, month = divmod(index, 12)
        month += 1
        if index == month_index(self.first_year, 1):
            for jc in self.jobcenters:
                self.add(
                    out,
                    envelope(
                        f"jc-{jc.jobcenter_id}",
                        "bench-register",
                        "JobcenterRegistered",
                        at(index, 2, jc.offset_s),
                        {
                            "jobcenter_id": jc.jobcenter_id,
                            "name": jc.name,
                            "land": jc.land,
                            "kind": jc.kind,
                        },
                    ),
                )
        for jc in self.jobcenters:
            if self.first_year <= year <= self.last_year:
                self.agreement_month(out, jc, year, month)
            if month == 4 and self.first_year <= year - 1 <= self.last_year:
                closed = f"{year}-04-{10 + jc.offset_s % 15:02d}"
                self.add(
                    out,
                    self.agreement_event(
                        jc,
                        year - 1,
                        "closed",
                        "AgreementClosed",
                        f"{closed}T09:00:00Z",
                        {"closed_on": closed},
                    ),
                )
            reported = index - LAG
            if month_index(self.first_year, 1) <= reported <= month_index(self.last_year, 12):
                self.figures(out, jc, reported, at(index, 27, jc.offset_s))
            corrected = index - LAG - CORRECTION_LAG
            if month_index(self.first_year, 1) <= corrected <= month_index(self.last_year, 12):
                self.corrections(out, jc, corrected, at(index, 26, jc.offset_s))
        return out

    def add(self, out: list[tuple[str, int, Message]], message: Envelope) -> None:
        """Append with a sequence number that keeps equal times in build order."""
        self.seq += 1
        out.append((message["occurred_at"], self.seq, message))

    @staticmethod
    def agreement_event(
        jc: Jobcenter, year: int, key: str, type_: str, occurred_at: str, data: Envelope
    ) -> Envelope:
        """An event of the jobcenter's agreement for `year`."""
        agreement_id = f"{jc.jobcenter_id}-{year}"
        return envelope(
            f"zv-{agreement_id}-{key}",
            f"{AGREEMENT_SOURCE}-{jc.land.lower()}",
            type_,
            occurred_at,
            {"agreement_id": agreement_id, **data},
        )

    def agreement_month(
        self, out: list[tuple[str, int, Message]], jc: Jobcenter, year: int, month: int
    ) -> None:
        """The agreement events of `year` that fall in `month`."""
        # Conclusion month (2 or 3) and day follow from the district key, no random draw.
        signed_month = 2 + int(jc.jobcenter_id) % 2
        if month == signed_month:
            self.conclude(out, jc, year, month)
        elif month in (5, 9):
            amount = round(self.rng.uniform(-0.06, 0.06) * jc.elb * 120, 2)
            self.add(
                out,
                self.agreement_event(
                    jc,
                    year,
                    f"deviation-{month:02d}",
                    "BudgetDeviationRecorded",
                    f"{year}-{month:02d}-28T10:00:00Z",
                    {
                        "budget_line": BUDGET_LINE,
                        "period": f"{year}-{month:02d}",
                        "amount_eur": amount,
                        "reason": "Unterjährige Umschichtung im Eingliederungstitel",
                    },
                ),
            )
        elif month in (6, 11):
            self.add(
                out,
                self.agreement_event(
                    jc,
                    year,
                    f"dialog-{month:02d}",
                    "DialogHeld",
                    f"{year}-{month:02d}-16T10:00:00Z",
                    {
                        "held_on": f"{year}-{month:02d}-15",
                        "summary": "Zielnachhaltedialog zum Stand der Zielerreichung im Jahr",
                    },
                ),
            )
        elif month == 7:
            target_id, _, _, _, _, _ = TARGETS[3]
            value = round(self.expected_ltb(jc) * self.rng.uniform(0.97, 1.01), 0)
            self.add(
                out,
                self.agreement_event(
                    jc,
                    year,
                    "amend-ltb",
                    "TargetAmended",
                    f"{year}-07-03T09:00:00Z",
                    {
                        "target_id": target_id,
                        "value": value,
                        "effective_from": f"{year}-07-01",
                        "reason": "Anpassung nach dem Zielnachhaltedialog im Juni",
                    },
                ),
            )

    def conclude(
        self, out: list[tuple[str, int, Message]], jc: Jobcenter, year: int, month: int
    ) -> None:
        """AgreementConcluded, its targets, the budget and two goals, seconds apart."""
        day = 1 + int(jc.jobcenter_id) % 27
        base = f"{year}-{month:02d}-{day:02d}T09:"
        counterpart = LAND_MINISTRY[jc.land] if jc.kind == "zkT" else REGIONAL_DIRECTORATE
        second = 0

        def stamp() -> str:
            nonlocal second
            second += 1
            return f"{base}{second // 60:02d}:{second % 60:02d}Z"

        self.add(
            out,
            self.agreement_event(
                jc,
                year,
                "concluded",
                "AgreementConcluded",
                stamp(),
                {
                    "jobcenter_id": jc.jobcenter_id,
                    "year": year,
                    "parties": [counterpart, jc.name],
                    "signed_on": f"{year}-{month:02d}-{day:02d}",
                    "title": f"Zielvereinbarung {year}",
                },
            ),
        )
        self.add(
            out,
            self.agreement_event(
                jc,
                year,
                "budget",
                "BudgetAllocated",
                stamp(),
                {
                    "budget_line": BUDGET_LINE,
                    "amount_eur": round(jc.elb * 120, 2),
                    "measures": [
                        "Coaching für Langzeitleistungsbeziehende",
                        "Teilhabe am Arbeitsmarkt",
                    ],
                },
            ),
        )
        for target_id, indicator, breakdown, comparator, unit, aggregation in TARGETS:
            data: Envelope = {
                "target_id": target_id,
                "indicator": indicator,
                "breakdown": breakdown,
                "comparator": comparator,
                "value": self.target_value(jc, target_id, breakdown),
                "unit": unit,
                "aggregation": aggregation,
            }
            if target_id == "integrations-total":
                data["budget_line"] = BUDGET_LINE
            self.add(
                out,
                self.agreement_event(jc, year, f"target-{target_id}", "TargetSet", stamp(), data),
            )
        for goal in ("gleichstellung", "reha"):
            self.add(
                out,
                self.agreement_event(
                    jc,
                    year,
                    f"goal-{goal}",
                    "QualitativeGoalSet",
                    stamp(),
                    {
                        "goal_id": goal,
                        "section": "Chancengleichheit"
                        if goal == "gleichstellung"
                        else "Menschen mit Behinderungen",
                        "text": "Gleichberechtigte Teilhabe von Frauen und Männern am Arbeitsmarkt"
                        if goal == "gleichstellung"
                        else "Integration von Menschen mit Behinderungen",
                        "state_support": ["Regelmäßiger Austausch mit dem Land"],
                    },
                ),
            )

    def expected_ltb(self, jc: Jobcenter) -> float:
        """Mean long-term recipients."""
        return jc.elb * 0.62

    def target_value(self, jc: Jobcenter, target_id: str, breakdown: str) -> int | float:
        """A plausible, slightly ambitious target."""
        share = WOMEN_SHARE[breakdown]
        noise = self.rng.uniform(0.94, 1.06)
        if target_id.startswith("integrations"):
            return round(jc.elb * 0.021 * 12 * share * noise)
        if target_id.startswith("ltb"):
            return round(self.expected_ltb(jc) * share * noise)
        fixed = {
            "k2-total": 25.0,
            "k2e3-total": 58.0,
            "k1e3-total": 3.2,
            "k3e2-total": 18.0,
            "llu-change": -1.5,
            "elb-change": -2.0,
        }
        return round(fixed[target_id] * noise, 1)

    def series_value(
        self, jc: Jobcenter, kind: str, breakdown: str, index: int
    ) -> tuple[int | float, int | None, int | None]:
        """(value, numerator, denominator) of one month."""
        rng = self.rng
        share = WOMEN_SHARE[breakdown]
        trend = 1.0 - 0.004 * (index % 120) / 12
        elb = jc.elb * trend * rng.uniform(0.99, 1.01)
        if kind == "integrations":
            return (
                round(elb * 0.021 * SEASON[index % 12] * share * rng.uniform(0.9, 1.1)),
                None,
                None,
            )
        if kind == "ltb":
            return round(elb * 0.62 * share), None, None
        if kind == "elb":
            return round(elb * share), None, None
        if kind == "llu":
            return round(elb * 455 * rng.uniform(0.97, 1.03), 2), None, None
        if kind == "u25":
            return round(elb * 0.0012 * rng.uniform(0.5, 1.5)), None, None
        if kind == "k2":
            # The month's integrations over its ELB stock: the year's `quota` sums the
            # numerators, so the value shown is the month's share scaled to twelve months.
            numerator = round(elb * 0.021 * share * rng.uniform(0.9, 1.1))
            denominator = max(round(elb * share), 1)
            return round(1200 * numerator / denominator, 2), numerator, denominator
        elif kind == "k2e3":
            denominator = round(elb * 0.021 * rng.uniform(0.9, 1.1))
            numerator = round(denominator * rng.uniform(0.5, 0.65))
        elif kind == "k3e2":
            denominator = round(elb * 0.62)
            numerator = round(denominator * rng.uniform(0.12, 0.24))
        else:  # k1e3, k1e4: in- and outflow rates
            denominator = round(elb)
            numerator = round(elb * rng.uniform(0.025, 0.04))
        denominator = max(denominator, 1)
        return round(100 * numerator / denominator, 2), numerator, denominator

    def figures(
        self, out: list[tuple[str, int, Message]], jc: Jobcenter, index: int, occurred_at: str
    ) -> None:
        """Every series' first publication of month `index`."""
        period = period_of(index)
        for indicator, breakdowns, kind in SERIES:
            for breakdown in breakdowns:
                value, numerator, denominator = self.series_value(jc, kind, breakdown, index)
                data: Envelope = {
                    "jobcenter_id": jc.jobcenter_id,
                    "indicator": indicator,
                    "period": period,
                    "breakdown": breakdown,
                    "value": value,
                    "status": "preliminary",
                }
                if numerator is not None:
                    data["numerator"], data["denominator"] = numerator, denominator
                self.seq += 1
                out.append(
                    (
                        occurred_at,
                        self.seq,
                        envelope(
                            f"ba-{jc.jobcenter_id}-{period}-{indicator}-{breakdown}",
                            BA,
                            "MonthlyFigureReported",
                            occurred_at,
                            data,
                        ),
                    )
                )

    def corrections(
        self, out: list[tuple[str, int, Message]], jc: Jobcenter, index: int, occurred_at: str
    ) -> None:
        """About `CORRECTION_SHARE` of month `index`'s series, corrected (final)."""
        period = period_of(index)
        for indicator, breakdowns, kind in SERIES:
            for breakdown in breakdowns:
                if self.rng.random() >= CORRECTION_SHARE:
                    continue
                value, numerator, denominator = self.series_value(jc, kind, breakdown, index)
                data: Envelope = {
                    "jobcenter_id": jc.jobcenter_id,
                    "indicator": indicator,
                    "period": period,
                    "breakdown": breakdown,
                    "value": value,
                    "status": "final",
                    "reason": CORRECTION_REASON,
                }
                if numerator is not None:
                    data["numerator"], data["denominator"] = numerator, denominator
                self.seq += 1
                out.append(
                    (
                        occurred_at,
                        self.seq,
                        envelope(
                            f"ba-{jc.jobcenter_id}-{period}-{indicator}-{breakdown}-rev1",
                            BA,
                            "MonthlyFigureCorrected",
                            occurred_at,
                            data,
                        ),
                    )
                )

    def hostile(self, index: int) -> Message:
        """One bad message of five kinds, published in month `index`."""
        self.seq += 1
        jc = self.jobcenters[self.rng.randrange(len(self.jobcenters))]
        period = period_of(index - LAG)
        good = envelope(
            f"hostile-{self.seq}",
            HOSTILE_SOURCE,
            "MonthlyFigureReported",
            at(index, 27),
            {
                "jobcenter_id": jc.jobcenter_id,
                "indicator": "integrations",
                "period": period,
                "breakdown": "total",
                "value": 5,
                "status": "final",
            },
        )
        kind = self.rng.randrange(5)
        if kind == 0:
            return b'{"message_id": "broken-' + str(self.seq).encode() + b'", "source'
        if kind == 1:
            return good | {"type": "SomethingElseHappened"}
        if kind == 2:
            return good | {"data": good["data"] | {"jobcenter_id": "99999"}}
        if kind == 3:
            return good | {"data": good["data"] | {"value": -self.rng.randint(1, 99)}}
        return good | {"correlation_id": "x" * OVERSIZE_BYTES}


def national_workload(
    jobcenters: int = NATIONAL_JOBCENTERS,
    years: int = 10,
    seed: int = 1,
    last_year: int = LAST_YEAR,
) -> Iterator[Message]:
    """The messages of `jobcenters` over the `years` up to `last_year`, in publication order."""
    return NationalWorkload(jobcenters, years, seed, last_year).messages()


def store_events(
    jobcenters: int = NATIONAL_JOBCENTERS, years: int = 1, seed: int = 1
) -> Iterator[NewEvent]:
    """The valid messages of the workload as the events the ingest would append (for loading
    a store directly, without the broker and the ingest in between)."""
    for message in national_workload(jobcenters, years, seed):
        if not is_hostile(message):
            assert isinstance(message, dict)
            envelope, event = parse_envelope(message)
            yield new_event(envelope, event, f"broker:source-{envelope.source}",
                            f"zs.ingest.{envelope.source}")  # fmt: skip


def is_hostile(message: Message) -> bool:
    """Whether the message is one the ingest must reject."""
    return isinstance(message, bytes) or message.get("source") == HOSTILE_SOURCE


def encode(message: Message) -> bytes:
    """The body as an upstream system publishes it."""
    if isinstance(message, bytes):
        return message
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """`--jobcenters N --years Y --seed S [--last-year L]`."""
    parser = argparse.ArgumentParser(description="Write a national workload as NDJSON.")
    parser.add_argument("--jobcenters", type=int, default=NATIONAL_JOBCENTERS)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--last-year", type=int, default=LAST_YEAR)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the workload to stdout, one message a line."""
    args = parse_args(argv)
    out = sys.stdout.buffer
    lines: list[bytes] = []
    for message in national_workload(args.jobcenters, args.years, args.seed, args.last_year):
        lines.append(encode(message))
        if len(lines) >= 10_000:
            out.write(b"\n".join(lines) + b"\n")
            lines.clear()
    if lines:
        out.write(b"\n".join(lines) + b"\n")
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The national demo: every jobcenter of Germany, their yearly agreements and monthly figures,
as upstream envelopes (docs/operations.md, "The national demo").

`national_envelopes(jobcenters=404, years=3, seed=1)` builds them deterministically: 404
jobcenters in 16 Länder (300 gE, 104 zkT), each with a district key and a comparison type per
year; per year a federal agreement (members: the gE) and 16 Land agreements (members: the
Land's zkT, or its gE where it has none), and per jobcenter an agreement, each with six
targets and closed in the April after its year; thirteen monthly series per jobcenter,
published by the BA statistics after the three-month waiting period, a share first published
preliminary within it and a few revised months later. The last year is `LAST_YEAR`, in
progress: the demo stands on `HORIZON`.

Order: four runs of one source each (the registrations and types; the BA's agreements; the
Länder's; the figures), each in `occurred_at` order, so every envelope is valid where it stands
and `zs publish`'s runs per channel stay few. Message ids are stable (`national-...`), so
publishing the demo twice records nothing new.

Its size: a table of the Länder, the drawing of jobcenters and their monthly series, and one
builder per kind of envelope.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Envelope = dict[str, Any]

LAST_YEAR = 2026
"""The demo's last agreement year, in progress on `HORIZON`."""
HORIZON = "2026-10-31T23:59:59Z"
"""Nothing is published after this moment: the demo stands on 31 October 2026."""
BA = "ba-statistik"
BA_AGREEMENTS = "ba-zielsteuerung"
"""The BA's target-steering system: the federal agreement and the gE's agreements."""
LAND_AGREEMENTS = "land-zielsteuerung"
"""The Länder's: their agreements with the BMAS and the zkT's agreements."""
SOURCES = (BA, BA_AGREEMENTS, LAND_AGREEMENTS)
BMAS = "Bundesministerium für Arbeit und Soziales (BMAS)"
BA_NAME = "Bundesagentur für Arbeit (BA)"
REGIONAL_DIRECTORATE = "Regionaldirektion der Bundesagentur für Arbeit"
SEED_DISTRICTS = frozenset({"05162", "06435", "06437"})
"""The seed demo's jobcenters: the national demo draws other keys, so both can be loaded."""

# Land: ISO code, district-key prefix, jobcenters, of them zkT, the ministry that steers its
# zkT. The totals per Land and the zkT split are a plausible split of 404 = 300 gE + 104 zkT
# (the real ones change with every territorial reform; docs/operations.md).
LAENDER: tuple[tuple[str, str, int, int, str], ...] = (
    ("DE-SH", "01", 15, 2, "Ministerium für Soziales Schleswig-Holstein"),
    ("DE-HH", "02", 1, 0, "Behörde für Arbeit Hamburg"),
    ("DE-NI", "03", 43, 20, "Niedersächsisches Ministerium für Soziales, Arbeit und "
                            "Gleichstellung"),
    ("DE-HB", "04", 2, 0, "Senatorin für Arbeit Bremen"),
    ("DE-NW", "05", 53, 18, "Ministerium für Arbeit, Gesundheit und Soziales NRW (MAGS)"),
    ("DE-HE", "06", 26, 16, "Hessisches Ministerium für Soziales und Integration (HMSI)"),
    ("DE-RP", "07", 36, 2, "Ministerium für Arbeit, Soziales, Transformation und "
                           "Digitalisierung Rheinland-Pfalz"),
    ("DE-BW", "08", 44, 5, "Ministerium für Wirtschaft, Arbeit und Tourismus "
                           "Baden-Württemberg"),
    ("DE-BY", "09", 96, 10, "Bayerisches Staatsministerium für Familie, Arbeit und Soziales"),
    ("DE-SL", "10", 6, 1, "Ministerium für Arbeit, Soziales, Frauen und Gesundheit Saarland"),
    ("DE-BE", "11", 12, 0, "Senatsverwaltung für Integration, Arbeit und Soziales Berlin"),
    ("DE-BB", "12", 18, 6, "Ministerium für Soziales, Gesundheit, Integration Brandenburg"),
    ("DE-MV", "13", 8, 2, "Ministerium für Soziales, Gesundheit und Sport "
                          "Mecklenburg-Vorpommern"),
    ("DE-SN", "14", 13, 8, "Sächsisches Staatsministerium für Wirtschaft, Arbeit und Verkehr"),
    ("DE-ST", "15", 14, 7, "Ministerium für Arbeit, Soziales, Gesundheit Sachsen-Anhalt"),
    ("DE-TH", "16", 17, 7, "Thüringer Ministerium für Arbeit, Soziales, Gesundheit"),
)  # fmt: skip
NATIONAL_JOBCENTERS = sum(row[2] for row in LAENDER)  # 404
EAST = frozenset({"DE-BB", "DE-MV", "DE-SN", "DE-ST", "DE-TH"})
BERLIN_DISTRICT = "11000"
BERLIN_BEZIRKE = (
    "Mitte", "Friedrichshain-Kreuzberg", "Pankow", "Charlottenburg-Wilmersdorf", "Spandau",
    "Steglitz-Zehlendorf", "Tempelhof-Schöneberg", "Neukölln", "Treptow-Köpenick",
    "Marzahn-Hellersdorf", "Lichtenberg", "Reinickendorf",
)  # fmt: skip
CITY_DISTRICTS = {"DE-HH": ("02000",), "DE-HB": ("04011", "04012")}
CITY_NAMES = {"02000": "Hamburg", "04011": "Bremen", "04012": "Bremerhaven"}

TYPOLOGY = "SGB-II-Typisierung des IAB"
TYPOLOGY_VERSION = "2024"
# Comparison types: code, name (illustrative, in the spirit of the IAB typology: five groups by
# labour-market conditions, split by size and structure; not the published assignment).
TYPES: tuple[tuple[str, str], ...] = (
    ("Ia", "Ländliche Gebiete mit sehr guter Arbeitsmarktlage, geringe Langzeitarbeitslosigkeit"),
    ("Ib", "Ländlich geprägte Gebiete mit unterdurchschnittlicher Arbeitslosigkeit"),
    ("IIa", "Städtisch geprägte Gebiete mit durchschnittlicher Arbeitslosigkeit"),
    ("IIb", "Ländliche Gebiete mit durchschnittlicher Arbeitsmarktlage"),
    ("IIc", "Verdichtete Gebiete mit durchschnittlicher Arbeitsmarktlage"),
    ("IIIa", "Ländliche Gebiete mit unterdurchschnittlicher Arbeitsmarktlage"),
    ("IIIb", "Städtische Gebiete mit unterdurchschnittlicher Arbeitsmarktlage"),
    ("IVa", "Ländliche Gebiete in Ostdeutschland mit hoher Langzeitarbeitslosigkeit"),
    ("IVb", "Städtische Gebiete in Ostdeutschland mit hoher Langzeitarbeitslosigkeit"),
    ("Va", "Großstädte mit hoher Arbeitslosigkeit und vielen Bedarfsgemeinschaften"),
    ("Vb", "Großstädte mit sehr hoher Langzeitarbeitslosigkeit"),
    ("Vc", "Stadtstaaten und Metropolen"),
)

LAG = 3  # months: the waiting period before a month is published
PRELIMINARY_SHARE = 0.03
"""Jobcenter-months first published preliminary, within the waiting period."""
REVISION_SHARE = 0.01
"""Jobcenter-months whose integrations are revised three months after their publication."""
FINAL_REASON = "Endgültiger Wert nach Ablauf der dreimonatigen Wartezeit"
REVISION_REASON = "Revision der BA-Statistik: nachträglich erfasste Integrationen"
BREAKDOWNS = ("total", "women", "men")
WOMEN_SHARE = 0.47
SEASON = (0.92, 0.95, 1.08, 1.04, 1.02, 1.0, 0.97, 1.03, 1.12, 1.03, 0.98, 0.86)
INTEGRATION_RATE = 0.021  # integrations a month per ELB
LTB_SHARE = 0.62  # long-term recipients among the ELB
LLU_PER_ELB = 640.0  # EUR a month

# Targets of a jobcenter's agreement: target_id, indicator, breakdown, comparator, unit,
# aggregation, label.
TARGETS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("integrations-total", "integrations", "total", "at_least", "count", "sum",
     "Integrationen in sv-Beschäftigung, Berufsausbildung oder Selbständigkeit"),
    ("integrations-women", "integrations", "women", "at_least", "count", "sum",
     "Integrationen von Frauen"),
    ("ltb-total", "ltb_stock", "total", "at_most", "count", "mean",
     "Durchschnittlicher Bestand an Langzeitleistungsbeziehenden"),
    ("k2-total", "k2", "total", "at_least", "percent", "quota", "K2 Integrationsquote"),
    ("k3-total", "k3", "total", "at_most", "percent", "change_of_mean",
     "K3 Veränderung des Bestands an Langzeitleistungsbeziehenden"),
    ("k2e3-total", "k2e3", "total", "at_least", "percent", "ratio",
     "K2E3 Quote der kontinuierlichen Beschäftigung nach Integration"),
)  # fmt: skip


@dataclass(frozen=True)
class Jobcenter:
    """One demo jobcenter: its key, district key, Land, kind, name, size and how well it does."""

    jobcenter_id: str
    district_key: str
    land: str
    kind: str
    name: str
    elb: float
    """Its mean stock of employable beneficiaries."""
    performance: float
    """How its integrations compare with the plain rate (1.0: as the rate says)."""
    type_code: str


def land_counts(jobcenters: int) -> list[tuple[str, int, int]]:
    """(Land, jobcenters, of them zkT) scaled from the national 404 to `jobcenters` (largest
    remainder). From 16 jobcenters on every Land keeps one and the rest are split so (the
    national demo's shape: 16 Länder, Hamburg with its one jobcenter); fewer leave some
    Länder empty."""
    base = 1 if jobcenters >= len(LAENDER) else 0
    spread, pool = jobcenters - base * len(LAENDER), NATIONAL_JOBCENTERS - base * len(LAENDER)
    exact = [base + (row[2] - base) * spread / pool for row in LAENDER]
    counts = [int(share) for share in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] % 1), i))
    for index in by_remainder[: jobcenters - sum(counts)]:
        counts[index] += 1
    return [(row[0], n, round(row[3] * n / row[2])) for row, n in zip(LAENDER, counts, strict=True)]


def make_jobcenters(count: int, seed: int) -> list[Jobcenter]:
    """`count` jobcenters spread over the Länder as the national ones are."""
    rng = random.Random(f"national-jobcenters-{seed}")
    prefixes = {row[0]: row[1] for row in LAENDER}
    result = []
    for land, n, zkt in land_counts(count):
        if land == "DE-BE":
            keys = [(f"11{i + 1:03d}", BERLIN_DISTRICT) for i in range(n)]
        elif land in CITY_DISTRICTS:
            keys = [(key, key) for key in CITY_DISTRICTS[land][:n]]
        else:
            drawn = (f"{prefixes[land]}{k:03d}" for k in rng.sample(range(111, 999), n + 3))
            keys = [(key, key) for key in sorted(k for k in drawn if k not in SEED_DISTRICTS)[:n]]
        zkt_ids = {key for key, _ in rng.sample(keys, zkt)}
        for jobcenter_id, district in keys:
            result.append(_jobcenter(rng, jobcenter_id, district, land, jobcenter_id in zkt_ids))
    return result


def _jobcenter(rng: random.Random, jobcenter_id: str, district: str, land: str,
               zkt: bool) -> Jobcenter:  # fmt: skip
    if land == "DE-BE":
        place = f"Berlin {BERLIN_BEZIRKE[int(jobcenter_id[2:]) - 1]}"
        elb = rng.uniform(18_000, 32_000)
    elif district in CITY_NAMES:
        place = CITY_NAMES[district]
        elb = 140_000.0 if land == "DE-HH" else rng.uniform(8_000, 45_000)
    else:
        place = f"Kreis {district}"
        elb = rng.lognormvariate(8.9, 0.6)
    name = f"Kommunales Jobcenter {place}" if zkt else f"Jobcenter {place}"
    return Jobcenter(jobcenter_id, district, land, "zkT" if zkt else "gE", name, round(elb),
                     rng.gauss(1.0, 0.08), _type_code(land, elb, rng))  # fmt: skip


def _type_code(land: str, elb: float, rng: random.Random) -> str:
    """A comparison type that fits the jobcenter's Land and size (illustrative)."""
    if land in ("DE-BE", "DE-HH", "DE-HB"):
        return "Vc"
    if elb > 30_000:
        return rng.choice(("Va", "Vb"))
    if land in EAST:
        return "IVb" if elb > 12_000 else "IVa"
    return rng.choice(("Ia", "Ib", "IIa", "IIb", "IIc", "IIIa", "IIIb"))


def month_index(year: int, month: int) -> int:
    """Months since year 0, so that months add."""
    return year * 12 + month - 1


def period_of(index: int) -> str:
    """`YYYY-MM` of a month index."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def at(index: int, day: int, clock: str = "08:00:00") -> str:
    """An ISO UTC time on `day` of month `index`."""
    return f"{period_of(index)}-{day:02d}T{clock}Z"


def envelope(message_id: str, source: str, type_: str, occurred_at: str,
             data: Envelope) -> Envelope:  # fmt: skip
    """A v1 envelope of the national demo."""
    return {"message_id": f"national-{message_id}", "source": source, "type": type_,
            "schema_version": 1, "occurred_at": occurred_at, "data": data}  # fmt: skip


def national_envelopes(jobcenters: int = NATIONAL_JOBCENTERS, years: int = 3,
                       seed: int = 1) -> list[Envelope]:  # fmt: skip
    """Every envelope of the demo, in publication order (see the module's docstring)."""
    if not 1 <= jobcenters <= NATIONAL_JOBCENTERS or years < 1:
        raise ValueError(f"need 1 to {NATIONAL_JOBCENTERS} jobcenters and at least one year")
    demo = NationalDemo(make_jobcenters(jobcenters, seed), years, seed)
    runs = (demo.registrations(), demo.ba_agreements(), demo.land_agreements(), demo.figures())
    return [e for run in runs for e in sorted(run, key=lambda e: str(e["occurred_at"]))]


class NationalDemo:
    """The jobcenters' series, drawn once, and the builders of each run."""

    def __init__(self, jobcenters: list[Jobcenter], years: int, seed: int) -> None:
        self.jobcenters = jobcenters
        self.years = range(LAST_YEAR - years + 1, LAST_YEAR + 1)
        self.seed = seed
        # One year of history before the first is drawn (never published): K2 and K3 of the
        # first year need the twelve months before.
        self.first_month = month_index(self.years[0] - 1, 1)
        self.series = {jc.jobcenter_id: self._series(jc) for jc in jobcenters}

    def rng(self, *key: object) -> random.Random:
        """A random stream of its own for `key`: a jobcenter's draws do not depend on which
        other jobcenters the variant holds."""
        return random.Random("-".join(map(str, ("national", self.seed, *key))))

    def _series(self, jc: Jobcenter) -> dict[str, list[int]]:
        """The jobcenter's monthly base series, from the history year to `LAST_YEAR`'s end."""
        rng = self.rng("series", jc.jobcenter_id)
        months = month_index(LAST_YEAR + 1, 1) - self.first_month
        elb, ltb, integrations, integrations_women, llu = [], [], [], [], []
        level = jc.elb
        trend = rng.gauss(-0.0008, 0.0015)  # a month: about -1 % a year, give or take 2 %
        year_form = 1.0
        for offset in range(months):
            if (self.first_month + offset) % 12 == 0:
                year_form = rng.gauss(1.0, 0.05)
            level *= 1.0 + trend + rng.gauss(0.0, 0.002)
            elb.append(round(level))
            ltb.append(round(level * LTB_SHARE * rng.uniform(0.995, 1.005)))
            season = SEASON[(self.first_month + offset) % 12]
            count = round(level * INTEGRATION_RATE * jc.performance * year_form * season
                          * rng.uniform(0.9, 1.1))  # fmt: skip
            integrations.append(count)
            integrations_women.append(round(count * WOMEN_SHARE * rng.uniform(0.9, 1.1)))
            llu.append(round(level * LLU_PER_ELB * rng.uniform(0.98, 1.02)))
        return {"elb": elb, "ltb": ltb, "integrations": integrations,
                "integrations_women": integrations_women, "llu": llu}  # fmt: skip

    # -- run 1: the BA statistics' reference data ------------------------------------------

    def registrations(self) -> list[Envelope]:
        """Each jobcenter registered, and its comparison type per year."""
        registered = at(month_index(self.years[0] - 1, 11), 2)
        out = [envelope(f"jobcenter-{jc.jobcenter_id}", BA, "JobcenterRegistered", registered,
                        {"jobcenter_id": jc.jobcenter_id, "name": jc.name, "land": jc.land,
                         "kind": jc.kind, "district_key": jc.district_key})
               for jc in self.jobcenters]  # fmt: skip
        names = dict(TYPES)
        out += [envelope(f"type-{jc.jobcenter_id}-{year}", BA, "ComparisonTypeAssigned",
                         f"{year}-01-15T08:00:00Z",
                         {"jobcenter_id": jc.jobcenter_id, "year": year,
                          "type_code": jc.type_code, "type_name": names[jc.type_code],
                          "typology": TYPOLOGY, "typology_version": TYPOLOGY_VERSION})
                for year in self.years for jc in self.jobcenters]  # fmt: skip
        return out

    # -- runs 2 and 3: the agreements ------------------------------------------------------

    def ba_agreements(self) -> list[Envelope]:
        """The federal agreement (the BMAS with the BA, for the gE) and the gE's agreements
        (the BA and the municipal carrier with the jobcenter)."""
        out = []
        members = [jc for jc in self.jobcenters if jc.kind == "gE"]
        for year in self.years:
            if members:
                out += self.agreement(
                    f"bund-{year}", BA_AGREEMENTS, year, members, [BMAS, BA_NAME],
                    f"Zielvereinbarung {year} zwischen BMAS und BA (§ 48b Abs. 1 Nr. 1 SGB II)",
                    {"level": "federal"}, first_month=1,
                )  # fmt: skip
            for jc in members:
                carrier = jc.name.removeprefix("Jobcenter ")
                out += self.agreement(
                    f"{jc.jobcenter_id}-{year}", BA_AGREEMENTS, year, [jc],
                    [f"{REGIONAL_DIRECTORATE} ({jc.land})", carrier, jc.name],
                    f"Zielvereinbarung {year} {jc.name}", {"jobcenter_id": jc.jobcenter_id},
                )  # fmt: skip
        return out

    def land_agreements(self) -> list[Envelope]:
        """Each Land's agreement with the BMAS, for its zkT (a Land without zkT: for its gE,
        whose municipal carrier it is or steers), and the zkT's agreements (the Land's
        ministry with the jobcenter)."""
        out = []
        for land, _, _, _, ministry in LAENDER:
            in_land = [jc for jc in self.jobcenters if jc.land == land]
            members = [jc for jc in in_land if jc.kind == "zkT"] or in_land
            for year in self.years:
                if members:
                    out += self.agreement(
                        f"land-{land.lower()}-{year}", LAND_AGREEMENTS, year, members,
                        [BMAS, ministry], f"Zielvereinbarung {year} zwischen BMAS und {ministry}",
                        {"level": "land", "land": land}, first_month=1,
                    )  # fmt: skip
                for jc in (jc for jc in in_land if jc.kind == "zkT"):
                    out += self.agreement(
                        f"{jc.jobcenter_id}-{year}", LAND_AGREEMENTS, year, [jc],
                        [ministry, jc.name], f"Zielvereinbarung {year} {jc.name}",
                        {"jobcenter_id": jc.jobcenter_id},
                    )  # fmt: skip
        return out

    def agreement(self, agreement_id: str, source: str, year: int, members: list[Jobcenter],
                  parties: list[str], title: str, level: Envelope,
                  first_month: int = 2) -> list[Envelope]:  # fmt: skip
        """An agreement for `year`: concluded with its targets in `first_month` or the month
        after (a roll-up with its members first), closed in the April after the year (if that
        lies before the horizon)."""
        rng = self.rng("agreement", agreement_id)
        signed = month_index(year, first_month + rng.randrange(2))
        signed_on = f"{period_of(signed)}-{1 + rng.randrange(27):02d}"
        stamps = iter(range(60))

        def event(key: str, type_: str, **data: Any) -> Envelope:
            return envelope(f"{agreement_id}-{key}", source, type_,
                            f"{signed_on}T10:00:{next(stamps):02d}Z",
                            {"agreement_id": agreement_id, **data})  # fmt: skip

        out = [event("concluded", "AgreementConcluded", **level, year=year, parties=parties,
                     signed_on=signed_on, title=title)]  # fmt: skip
        if "level" in level:
            ids = [jc.jobcenter_id for jc in members]
            out.append(event("members", "AgreementMembersSet", jobcenter_ids=ids))
        for target_id, indicator, breakdown, comparator, unit, aggregation, label in TARGETS:
            out.append(event(
                f"target-{target_id}", "TargetSet", target_id=target_id, indicator=indicator,
                breakdown=breakdown, comparator=comparator,
                value=self.target_value(members, year, target_id, rng), unit=unit,
                aggregation=aggregation, label=label,
            ))  # fmt: skip
        closed = f"{year + 1}-04-{10 + rng.randrange(15):02d}"
        if f"{closed}T09:00:00Z" <= HORIZON:
            out.append(envelope(f"{agreement_id}-closed", source, "AgreementClosed",
                                f"{closed}T09:00:00Z",
                                {"agreement_id": agreement_id, "closed_on": closed}))  # fmt: skip
        return out

    def target_value(self, members: list[Jobcenter], year: int, target_id: str,
                     rng: random.Random) -> int | float:  # fmt: skip
        """A target near what the members' summed series achieved the year before, a little
        ambitious."""
        series = [self.series[jc.jobcenter_id] for jc in members]
        before = slice(month_index(year - 1, 1) - self.first_month,
                       month_index(year, 1) - self.first_month)  # fmt: skip
        ambition = rng.uniform(0.95, 1.04)

        def summed(name: str) -> int:
            return sum(sum(one[name][before]) for one in series)

        if target_id == "integrations-total":
            return round(summed("integrations") * ambition)
        if target_id == "integrations-women":
            return round(summed("integrations_women") * ambition)
        if target_id == "ltb-total":
            return round(summed("ltb") / 12 / ambition)
        if target_id == "k2-total":
            parts = [self.k2_parts(one, before.stop - 1) for one in series]
            quota = sum(n for n, _ in parts) / sum(d for _, d in parts)
            return round(100 * quota * ambition, 1)
        if target_id == "k3-total":
            return round(rng.uniform(-2.5, 0.5), 1)
        return round(rng.uniform(55.0, 62.0), 1)  # k2e3

    # -- run 4: the figures ----------------------------------------------------------------

    def figures(self) -> list[Envelope]:
        """Every published vintage of every month from the first year's January on."""
        out = []
        first = month_index(self.years[0], 1)
        for jc in self.jobcenters:
            for index in range(first, month_index(LAST_YEAR + 1, 1)):
                out += self.month_vintages(jc, index)
        return out

    def month_vintages(self, jc: Jobcenter, index: int) -> list[Envelope]:
        """A jobcenter-month's publications: the regular one on the 10th after the waiting
        period (a correction of a preliminary one within it, where there is one), and a
        revision of its integrations three months later for a few."""
        rng = self.rng("vintages", jc.jobcenter_id, index)
        preliminary = rng.random() < PRELIMINARY_SHARE
        revised = rng.random() < REVISION_SHARE
        values = self.month_values(jc, index)
        out = []
        early = at(index + LAG, 27)
        if preliminary and early <= HORIZON:
            noisy = self.month_values(jc, index, rng)
            out += [self.figure(jc, index, key, early, "preliminary", parts)
                    for key, parts in noisy.items()]  # fmt: skip
        regular = at(index + LAG + 1, 10)
        if regular <= HORIZON:
            correction = FINAL_REASON if preliminary and early <= HORIZON else None
            out += [self.figure(jc, index, key, regular, "final", parts, correction)
                    for key, parts in values.items()]  # fmt: skip
        later = at(index + LAG + 4, 10)
        if revised and later <= HORIZON:
            extra = 1 + rng.randrange(4)
            total = values[("integrations", "total")][0] + extra
            women = values[("integrations", "women")][0] + extra // 2
            for breakdown, value in (("total", total), ("women", women), ("men", total - women)):
                out.append(self.figure(jc, index, ("integrations", breakdown), later, "final",
                                       (value, None, None), REVISION_REASON, "rev"))  # fmt: skip
        return out

    def figure(self, jc: Jobcenter, index: int, key: tuple[str, str], occurred_at: str,
               status: str, parts: tuple[float, int | None, int | None],
               correction: str | None = None, tag: str = "final") -> Envelope:  # fmt: skip
        """One vintage: reported, or a correction of an earlier one (with its reason)."""
        indicator, breakdown = key
        value, numerator, denominator = parts
        data: Envelope = {"jobcenter_id": jc.jobcenter_id, "indicator": indicator,
                          "period": period_of(index), "breakdown": breakdown, "value": value,
                          "status": status}  # fmt: skip
        if numerator is not None:
            data |= {"numerator": numerator, "denominator": denominator}
        message_id = f"ba-{jc.jobcenter_id}-{period_of(index)}-{indicator}-{breakdown}"
        if correction is None:
            if status == "preliminary":
                message_id += "-preliminary"
            return envelope(message_id, BA, "MonthlyFigureReported", occurred_at, data)
        data["reason"] = correction
        return envelope(f"{message_id}-{tag}", BA, "MonthlyFigureCorrected", occurred_at, data)

    def month_values(self, jc: Jobcenter, index: int, noise: random.Random | None = None,
                     ) -> dict[tuple[str, str], tuple[float, int | None, int | None]]:  # fmt: skip
        """(indicator, breakdown) -> (value, numerator, denominator) of month `index`; with
        `noise`, a preliminary estimate (counts off by a few per cent)."""
        series = self.series[jc.jobcenter_id]
        offset = index - self.first_month

        def get(name: str, at_offset: int = offset) -> int:
            value = series[name][at_offset]
            return round(value * noise.uniform(0.96, 1.0)) if noise else value

        out: dict[tuple[str, str], tuple[float, int | None, int | None]] = {}
        integrations, women = get("integrations"), get("integrations_women")
        women = min(women, integrations)
        elb, ltb = get("elb"), get("ltb")
        for name, total, female in (
            ("integrations", integrations, women),
            ("elb_stock", elb, round(elb * WOMEN_SHARE)),
            ("ltb_stock", ltb, round(ltb * (WOMEN_SHARE + 0.04))),
        ):
            out |= {(name, "total"): (total, None, None), (name, "women"): (female, None, None),
                    (name, "men"): (total - female, None, None)}  # fmt: skip
        out[("llu_eur", "total")] = (get("llu"), None, None)
        numerator, denominator = self.k2_parts(series, offset)
        out[("k2", "total")] = (round(100 * numerator / denominator, 2), numerator, denominator)
        year_before = series["ltb"][offset - 12]
        out[("k3", "total")] = (round(100 * (ltb / year_before - 1), 2), ltb, year_before)
        rate = self.rng("k2e3", jc.jobcenter_id, index).uniform(0.52, 0.64)
        base = series["integrations"][offset - 6]  # integrations six months earlier
        out[("k2e3", "total")] = (round(100 * round(base * rate) / max(base, 1), 2),
                                  round(base * rate), max(base, 1))  # fmt: skip
        return out

    @staticmethod
    def k2_parts(series: dict[str, list[int]], offset: int) -> tuple[int, int]:
        """K2 of the month at `offset`: integrations of the last twelve months over the mean
        ELB stock of the twelve months a month earlier (the key figure's construction)."""
        months = range(max(offset - 11, 0), offset + 1)
        numerator = sum(series["integrations"][m] for m in months)
        stocks = [series["elb"][max(m - 1, 0)] for m in months]
        return numerator, max(round(sum(stocks) / len(stocks)), 1)


def jobcenters_of(envelopes: list[Envelope]) -> Iterator[Envelope]:
    """The registrations among `envelopes` (for the tests and the summary)."""
    return (e for e in envelopes if e["type"] == "JobcenterRegistered")

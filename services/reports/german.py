"""German labels and de-DE formats of the reports: "1.494.300 €", "104,06 %", "31.12.2024"
(the dashboard's names and formats, `services/api/static/dashboard/app.js`)."""

from datetime import UTC, date, datetime
from decimal import Decimal

from events.numbers import answer_number

STATUS = {
    "achieved": "erreicht", "missed": "verfehlt", "on_track": "auf Kurs",
    "at_risk": "gefährdet", "no_data": "keine Daten",
}  # fmt: skip
INDICATOR = {
    "integrations": "Integrationen", "ltb_stock": "Bestand Langzeitleistungsbeziehende",
    "continuous_employment": "Kontinuierliche Beschäftigung",
    "u25_training_integrations": "Integrationen U25 in Ausbildung",
}  # fmt: skip
BREAKDOWN = {"total": "insgesamt", "women": "Frauen", "men": "Männer"}
COMPARATOR = {"at_least": "mindestens", "at_most": "höchstens"}
PLAN_BASIS = {
    "agreed_plan": "vereinbarte Planwerte", "prior_year_profile": "Vorjahresverlauf",
    "linear": "linear",
}  # fmt: skip
LEVEL = {"jobcenter": "Jobcenter", "land": "Land", "federal": "Bund", "germany": "Bund"}
AGREEMENT_STATUS = {"open": "laufend", "closed": "abgeschlossen"}
LAND = {
    "DE-BW": "Baden-Württemberg", "DE-BY": "Bayern", "DE-BE": "Berlin", "DE-BB": "Brandenburg",
    "DE-HB": "Bremen", "DE-HH": "Hamburg", "DE-HE": "Hessen", "DE-MV": "Mecklenburg-Vorpommern",
    "DE-NI": "Niedersachsen", "DE-NW": "Nordrhein-Westfalen", "DE-RP": "Rheinland-Pfalz",
    "DE-SL": "Saarland", "DE-SN": "Sachsen", "DE-ST": "Sachsen-Anhalt",
    "DE-SH": "Schleswig-Holstein", "DE-TH": "Thüringen",
}  # fmt: skip
MONTHS = ("Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez")
DASH = "\u2013"  # an en dash: what a table shows for no value


def number(value: Decimal | float | None) -> str:
    """A number as the answers present it (at most 2 decimals), in de-DE: `1.494.300`,
    `99,75`; a dash for none."""
    if value is None:
        return DASH
    presented = answer_number(Decimal(str(value)))
    text = f"{presented:,.2f}" if isinstance(presented, float) else f"{presented:,d}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def percent(value: Decimal | float | None) -> str:
    """`104,06 %` (always 2 decimals, as the dashboard shows attainment)."""
    if value is None:
        return DASH
    text = f"{answer_number(Decimal(str(value))):,.2f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".") + " %"


def with_unit(value: Decimal | float | None, unit: str) -> str:
    """A value in its target's unit: `1.494.300 €`, `12,5 %`, `718`."""
    if value is None:
        return DASH
    suffix = {"eur": " €", "percent": " %"}.get(unit, "")
    return number(value) + suffix


def day(value: date | datetime | None) -> str:
    """`31.12.2024` (a time as its UTC date)."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
    return DASH if value is None else f"{value:%d.%m.%Y}"


def moment(value: datetime | None) -> str:
    """`31.12.2024, 08:00 UTC`."""
    return DASH if value is None else f"{value.astimezone(UTC):%d.%m.%Y, %H:%M} UTC"


def target_name(indicator: str, breakdown: str, label: str | None) -> str:
    """A target's label (with its breakdown unless `total`), else its indicator and breakdown
    in German: `Integrationen (Frauen)`."""
    if label and breakdown == "total":
        return label
    return f"{label or INDICATOR.get(indicator, indicator)} ({BREAKDOWN.get(breakdown, breakdown)})"


def series_name(indicator: str, breakdown: str) -> str:
    """A figure series in German: `Integrationen (Frauen)`."""
    return f"{INDICATOR.get(indicator, indicator)} ({BREAKDOWN.get(breakdown, breakdown)})"


def land_name(land: str | None) -> str:
    """`Hessen` for `DE-HE`; `Deutschland` for none."""
    return "Deutschland" if land is None else LAND.get(land, land)


def period(value: str) -> str:
    """`2022-07` as `07/2022`."""
    year, month = value.split("-")
    return f"{month}/{year}"

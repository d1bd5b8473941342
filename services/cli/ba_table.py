"""Reading a table of the BA statistics' § 48a key figures and base series in its published
layout (docs/import.md): a CSV (UTF-8 with or without BOM, else Windows-1252; `;`, `,` or tab)
or an XLSX workbook, title lines above the header and notes below the data allowed. Every data
row becomes a `Figure` or a `Fault` naming its line; nothing here talks to a server.

Invariants: a file is read whole before anything is decided; a row is a fault, never a guess
(an unknown code, a number that is not German, a month that does not exist); a value the
statistics did not publish (`*`, `x`, `.`) is skipped and counted, never recorded as zero.
"""

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from events.catalogue import CATALOGUE
from events.envelope import InvalidEvent

Cell = Any
"""A cell as read: text from a CSV; text, a number, a date or None from a workbook."""

HEADER_SEARCH_ROWS = 50
"""The header must be among the first rows; above it stand the table's title lines."""

COLUMNS: dict[str, tuple[str, ...]] = {
    "jobcenter": ("jobcenter", "jobcenterschlüssel", "jobcenternummer", "jcschlüssel",
                  "träger", "trägerschlüssel", "trägernummer", "trägernr", "regionalschlüssel",
                  "schlüssel", "kennung"),
    "name": ("jobcentername", "jobcenterbezeichnung", "name", "bezeichnung", "trägername",
             "trägerbezeichnung"),
    "land": ("land", "bundesland"),
    "period": ("berichtsmonat", "monat", "stichtag"),
    "code": ("kennzahl", "merkmal", "kenngröße", "kennzahlergänzungsgröße", "variable"),
    "gender": ("geschlecht",),
    "value": ("wert", "kennzahlwert", "ergebnis"),
    "numerator": ("zähler", "zaehler"),
    "denominator": ("nenner",),
    "type_code": ("vergleichstyp", "sgbiivergleichstyp"),
    "type_name": ("vergleichstypbezeichnung", "vergleichstypname"),
    "typology_version": ("typisierung", "typisierungsstand", "vergleichstypstand"),
}  # fmt: skip
"""Column -> the header texts naming it, normalised (`normal`): case, spaces and punctuation
do not count, so "Jobcenter-Schlüssel" and "jobcenter schlüssel" are the same. Where a header
has several, the one named first here counts (`Jobcenter` before `Träger`)."""
REQUIRED = ("jobcenter", "period", "code", "value")

KEY_FIGURES = frozenset(
    {"k1", "k1e1", "k1e2", "k1e3", "k1e4", "k2", "k2e1", "k2e2", "k2e3", "k2e4",
     "k3", "k3e1", "k3e2", "k3e3", "k3e4"}
)  # fmt: skip
"""The § 48a key figures and supplementary figures: the code in lower case is the slug."""
BASE_SERIES: dict[str, tuple[str, str | None]] = {
    "elb": ("elb_stock", None),
    "lzb": ("ltb_stock", None),
    "int": ("integrations", None),
    "llu": ("llu_eur", None),
    "luh": ("kdu_eur", None),
    "int_lzb": ("ltb_integrations", None),
    "lzb_amp": ("ltb_activated", None),
    "bs_gering": ("minijob_entries", None),
    "bs_2am": ("funded_job_entries", None),
    "int_svb": ("svb_integrations", None),
    "elb_zu": ("elb_inflows", None),
    "elb_ab": ("elb_outflows", None),
    "lzb_zu": ("ltb_inflows", None),
    "lzb_ab": ("ltb_outflows", None),
    "int_allein": ("integrations", "single_parents"),
    "elb_allein": ("elb_stock", "single_parents"),
}
"""The statistics' variable names of the base series -> (indicator slug, breakdown group)."""
GENDERS: dict[str, str] = {
    "": "total", "insgesamt": "total", "gesamt": "total", "zusammen": "total", "summe": "total",
    "frauen": "women", "weiblich": "women", "w": "women", "f": "women",
    "männer": "men", "männlich": "men", "maennlich": "men", "m": "men",
}  # fmt: skip
GENDER_SUFFIX = re.compile(r"^(?P<code>.+?)_(?P<gender>[mfw])$")
"""A code carrying its gender, as the statistics name the split figures (`K2_F`, `elb_M`)."""
AGGREGATES = frozenset(
    {"d", "dg", "de", "deutschland", "bund", "west", "ost", "westdeutschland", "ostdeutschland"}
)
"""Keys of the rows for Germany and its parts: the system sums its jobcenters itself."""
LAND_KEY = re.compile(r"^\d{1,2}$")
JOBCENTER_KEY = re.compile(r"^\d{5}$")

NOT_PUBLISHED = frozenset({"", "*", "x", ".", "…", "...", "/", "()"})
"""Signs of a value the statistics did not publish: anonymised (`*`), not meaningful (`x`),
unknown (`.`, `…`, `/`), or an empty cell."""
MINUSES = ("-", "\u2212", "\u2013")
"""Hyphen, minus sign and en dash: each stands for "minus" before a number."""
NOTHING = frozenset({"-", "\u2013", "\u2014"})
"""The signs of "nothing there" (a dash alone): the number is zero."""
GERMAN_NUMBER = re.compile(
    r"^(?P<sign>[-+\u2212\u2013]?)(?P<whole>\d{1,3}(?:\.\d{3})+|\d+)(?:,(?P<frac>\d+))?$"
)
MONTHS = {
    "januar": 1, "jan": 1, "jänner": 1, "februar": 2, "feb": 2, "märz": 3, "maerz": 3, "mär": 3,
    "mrz": 3, "april": 4, "apr": 4, "mai": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7,
    "august": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10,
    "november": 11, "nov": 11, "dezember": 12, "dez": 12,
}  # fmt: skip
PERIOD_FORMS = (
    re.compile(r"^(?P<year>\d{4})-(?P<month>\d{1,2})$"),
    re.compile(r"^(?P<month>\d{1,2})[./](?P<year>\d{4})$"),
    re.compile(r"^(?P<year>\d{4})(?P<month>\d{2})$"),
    re.compile(r"^\d{1,2}\.(?P<month>\d{1,2})\.(?P<year>\d{4})$"),
    re.compile(r"^(?P<name>[a-zä]+)\.?\s+(?P<year>\d{4})$"),
)
STAND = re.compile(r"(?:stand|veröffentlichung|veröffentlicht|datenstand)\D{0,20}"
                   r"(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})")  # fmt: skip
"""A title line naming the publication date: "Stand: 26.02.2024"."""
XLSX_MAGIC = b"PK\x03\x04"
DELIMITERS = (";", "\t", ",")
"""A CSV's delimiter is the first of these that splits a row into the header."""


Progress = Callable[[int, int | None], None]
"""Told of each row read: its line, and the file's last line where known."""


class TableError(Exception):
    """The file as a whole cannot be read (not a table, no header, an unreadable encoding)."""


@dataclass(frozen=True)
class Figure:
    """One published monthly figure of a row."""

    line: int
    jobcenter_id: str
    indicator: str
    breakdown: str
    period: str
    value: Decimal
    numerator: Decimal | None
    denominator: Decimal | None

    @property
    def key(self) -> tuple[str, str, str, str]:
        """(jobcenter, indicator, breakdown, period): one figure of a publication."""
        return (self.jobcenter_id, self.indicator, self.breakdown, self.period)


@dataclass(frozen=True)
class TypeAssignment:
    """A jobcenter's comparison type for a year, as a row's `Vergleichstyp` names it."""

    line: int
    jobcenter_id: str
    year: int
    type_code: str
    type_name: str | None
    typology_version: str | None


@dataclass(frozen=True)
class Fault:
    """A row that cannot be read: its line (a CSV's line, a sheet's row) and why."""

    line: int
    reason: str


@dataclass
class Table:
    """What a file holds."""

    figures: list[Figure] = field(default_factory=list)
    types: list[TypeAssignment] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    suppressed: int = 0
    """Rows whose value the statistics did not publish."""
    aggregates: int = 0
    """Rows of Germany, a part of it or a Land (not a jobcenter)."""
    ignored_columns: list[str] = field(default_factory=list)
    publication: date | None = None
    """The publication date a title line names, if any."""


class RowFault(ValueError):
    """One cell of a row cannot be read."""


def read_table(path: Path, progress: Progress = lambda line, last: None) -> Table:
    """Read `path` (XLSX by its name or its first bytes, else CSV); `progress` is told of each
    row read (a progress bar). Raises `TableError` when the file as a whole cannot be read."""
    try:
        with path.open("rb") as file:
            start = file.read(4)
    except OSError as error:
        raise TableError(f"cannot read {path}: {error.strerror or error}") from None
    workbook = path.suffix.lower() in {".xlsx", ".xlsm"} or start == XLSX_MAGIC
    last: list[int | None] = [None]
    rows = xlsx_rows(path, last) if workbook else csv_rows(path, last)
    return parse_rows(told(rows, progress, last))


def told(
    rows: Iterator[tuple[int, list[Cell]]], progress: Progress, last: list[int | None]
) -> Iterator[tuple[int, list[Cell]]]:
    """`rows`, telling `progress` of each."""
    for line, row in rows:
        progress(line, last[0])
        yield line, row


def decode(raw: bytes) -> str:
    """The text of a CSV file: UTF-8 (a BOM is dropped), else Windows-1252, which Excel writes
    for "CSV (Trennzeichen-getrennt)" on German Windows; NUL bytes mean it is no text."""
    if b"\x00" in raw:
        raise TableError("the file holds NUL bytes: it is not a CSV text (an XLSX named .csv?)")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise TableError(
            f"line {line}: byte 0x{raw[error.start]:02x} is neither UTF-8 nor Windows-1252"
        ) from None


def csv_rows(path: Path, last: list[int | None]) -> Iterator[tuple[int, list[Cell]]]:
    """The rows of a CSV file with the line each starts on; `last[0]` is set to its last
    line once the file is read."""
    try:
        text = decode(path.read_bytes())
    except OSError as error:
        raise TableError(f"cannot read {path}: {error.strerror or error}") from None
    last[0] = text.count("\n") + (not text.endswith("\n"))
    head = text.splitlines()[:HEADER_SEARCH_ROWS]
    delimiter = next((d for d in DELIMITERS if splits_header(head, d)), ";")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    try:
        for row in reader:
            yield line, row
            line = reader.line_num + 1
    except csv.Error as error:
        raise TableError(f"line {reader.line_num}: {error}") from None


def splits_header(lines: list[str], delimiter: str) -> bool:
    """Whether `delimiter` splits one of `lines` into the header."""
    try:
        return any(map(header_columns, csv.reader(lines, delimiter=delimiter)))
    except csv.Error:
        return False


def xlsx_rows(path: Path, last: list[int | None]) -> Iterator[tuple[int, list[Cell]]]:
    """The rows of the first sheet of a workbook that holds the header (read-only mode: rows
    are streamed, so a large workbook is not held in memory), numbered as the sheet shows;
    `last[0]` is set to the sheet's last row where the workbook names it."""
    from openpyxl import load_workbook  # only a workbook needs it

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # a broken zip, a workbook of another kind: whatever openpyxl says
        raise TableError(f"{path} is not a readable XLSX workbook: {error}") from None
    try:
        for sheet in workbook.worksheets:
            rows = enumerate(sheet.iter_rows(values_only=True), 1)
            head = [(n, list(row)) for n, row in _take(rows, HEADER_SEARCH_ROWS)]
            if any(header_columns(row) for _, row in head):
                last[0] = sheet.max_row
                yield from head
                yield from ((n, list(row)) for n, row in rows)
                return
        raise TableError(_no_header())
    finally:
        workbook.close()


def _take(rows: Iterator[tuple[int, Any]], count: int) -> Iterator[tuple[int, Any]]:
    """The first `count` of `rows` (the rest stays in the iterator)."""
    for _ in range(count):
        item = next(rows, None)
        if item is None:
            return
        yield item


def normal(text: object) -> str:
    """A header or code text compared without case, spaces and punctuation (`_` kept)."""
    folded = unicodedata.normalize("NFC", str(text)).casefold()
    return "".join(char for char in folded if char.isalnum() or char == "_")


ALIASES = {
    alias: (column, rank) for column, names in COLUMNS.items() for rank, alias in enumerate(names)
}


@dataclass(frozen=True)
class Header:
    """Where a table's columns stand: the named ones, and in a wide table the column of each
    code (index -> (indicator, breakdown))."""

    columns: dict[str, int]
    codes: dict[int, tuple[str, str]]


def header_columns(row: Sequence[Cell]) -> Header | None:
    """The header when `row` is one, else None: a long header names every required column; a
    wide one names `Jobcenter` and `Berichtsmonat` and has a column per code (`K2`, `K2_F`,
    `elb`), without `Kennzahl` and `Wert`."""
    ranked: dict[str, tuple[int, int]] = {}
    codes: dict[int, tuple[str, str]] = {}
    for index, cell in enumerate(row):
        named = ALIASES.get(normal(cell)) if not blank(cell) else None
        if named is not None:
            column, rank = named
            if column not in ranked or rank < ranked[column][0]:
                ranked[column] = (rank, index)
        elif not blank(cell) and (code := code_column(cell)):
            codes[index] = code
    found = {column: index for column, (_, index) in ranked.items()}
    if all(column in found for column in REQUIRED):
        return Header(found, {})
    wide = "jobcenter" in found and "period" in found and codes
    return Header(found, codes) if wide and not {"code", "value"} & found.keys() else None


def code_column(cell: Cell) -> tuple[str, str] | None:
    """(indicator, breakdown) of a wide table's column header naming a code, else None."""
    try:
        return series(cell, None)
    except RowFault:
        return None


def _no_header() -> str:
    names = ", ".join(f"'{COLUMNS[column][0].capitalize()}'" for column in REQUIRED)
    return (f"no header row among the first {HEADER_SEARCH_ROWS} rows: it must name the "
            f"columns {names} (docs/import.md)")  # fmt: skip


def parse_rows(rows: Iterator[tuple[int, list[Cell]]]) -> Table:
    """Find the header among the first rows (a title line may name the publication date),
    then read every row below it."""
    table = Table()
    found: Header | None = None
    header: list[Cell] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    types: dict[tuple[str, int], TypeAssignment] = {}
    for line, row in rows:
        if found is None:
            found = header_columns(row)
            if found is None:
                table.publication = table.publication or stand(row)
                if line >= HEADER_SEARCH_ROWS:
                    break
                continue
            header = row
            continue
        try:
            read_row(table, found, header, line, row, seen, types)
        except RowFault as fault:
            table.faults.append(Fault(line, str(fault)))
    if found is None:
        raise TableError(_no_header())
    named = {*found.columns.values(), *found.codes}
    table.ignored_columns = [str(cell) for index, cell in enumerate(header)
                             if index not in named and cell not in (None, "")]  # fmt: skip
    table.types = list(types.values())
    return table


def stand(row: Sequence[Cell]) -> date | None:
    """The publication date a title line names ("Stand: 26.02.2024"), if it does."""
    for cell in row:
        if isinstance(cell, str) and (found := STAND.search(cell.casefold())):
            try:
                return date(int(found["year"]), int(found["month"]), int(found["day"]))
            except ValueError:
                return None
    return None


def read_row(
    table: Table,
    found: Header,
    header: list[Cell],
    line: int,
    row: list[Cell],
    seen: dict[tuple[str, str, str, str], int],
    types: dict[tuple[str, int], TypeAssignment],
) -> None:
    """Add what one row below the header holds to `table`; raise `RowFault` if it cannot."""
    filled = [cell for cell in row if not blank(cell)]
    if not filled:
        return  # a blank line
    if len(filled) == 1 and not JOBCENTER_KEY.match(text(filled[0])):
        return  # a note: "Quelle: ...", the signs' legend, a footnote
    if any(not blank(cell) for cell in row[len(header) :]):
        raise RowFault(f"has {len(row)} cells, the header {len(header)}")
    columns = found.columns

    def cell(column: str | int) -> Cell:
        index = columns.get(column) if isinstance(column, str) else column
        return row[index] if index is not None and index < len(row) else None

    key = jobcenter_key(cell("jobcenter"))
    if key is None:
        table.aggregates += 1
        return
    period = month(cell("period"))
    parts: list[tuple[str, str, Decimal | None, Decimal | None, Decimal | None]]
    if found.codes:  # wide: a figure per code column, the value alone
        parts = [(*code, number(cell(index), str(header[index])), None, None)
                 for index, code in found.codes.items()]  # fmt: skip
    else:
        code = series(cell("code"), cell("gender") if "gender" in columns else None)
        parts = [(*code, number(cell("value"), "Wert"), number(cell("numerator"), "Zähler"),
                  number(cell("denominator"), "Nenner"))]  # fmt: skip
    figures = [Figure(line, key, indicator, breakdown, period, value, numerator, denominator)
               for indicator, breakdown, value, numerator, denominator in parts
               if value is not None]  # fmt: skip
    table.suppressed += len(parts) - len(figures)
    own: set[tuple[str, str, str, str]] = set()
    for figure in figures:
        check(figure)
        if figure.key in seen or figure.key in own:
            raise RowFault(f"repeats the figure of line {seen.get(figure.key, line)}")
        own.add(figure.key)
    if figures and not blank(type_code := cell("type_code")):
        assign_type(types, line, key, int(period[:4]), type_code, cell("type_name"),
                    cell("typology_version"))  # fmt: skip
    for figure in figures:
        seen[figure.key] = line
    table.figures.extend(figures)


def blank(cell: Cell) -> bool:
    """Whether a cell holds nothing."""
    return cell is None or (isinstance(cell, str) and not cell.strip())


def text(cell: Cell) -> str:
    """A cell as stripped text (no-break spaces count as spaces)."""
    return "" if cell is None else str(cell).replace("\xa0", " ").strip()


def printable(cell: Cell, limit: int = 40) -> str:
    """A cell quoted for a message, control characters escaped, long text cut."""
    shown = text(cell)
    shown = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in shown[:limit])
    return repr(shown + ("…" if len(text(cell)) > limit else ""))


def integral(cell: Cell) -> Cell:
    """A workbook's integral float (`202310.0`, `6437.0`) as an int; any other cell as it is."""
    if isinstance(cell, float) and cell.is_integer():
        return int(cell)
    return cell


def jobcenter_key(cell: Cell) -> str | None:
    """The jobcenter's 5-digit key; None for a row of Germany, a part of it or a Land. A
    workbook may hold the key as a number and lose its leading zero: 6437 is "06437"."""
    cell = integral(cell)
    if isinstance(cell, int) and not isinstance(cell, bool) and 0 < cell <= 99999:
        cell = f"{cell:05d}" if cell > 99 else str(cell)
    key = text(cell)
    if JOBCENTER_KEY.match(key):
        return key
    if normal(key) in AGGREGATES or LAND_KEY.match(key):
        return None
    raise RowFault(f"Jobcenter {printable(cell)} is not a 5-digit key")


def series(code_cell: Cell, gender_cell: Cell) -> tuple[str, str]:
    """(indicator slug, breakdown) of a row's code and gender."""
    code = normal(code_cell)
    gender = GENDERS.get(normal(gender_cell) if gender_cell is not None else "")
    if gender is None:
        raise RowFault(f"Geschlecht {printable(gender_cell)} is none of Insgesamt, Frauen, Männer")
    if (
        code not in KEY_FIGURES
        and code not in BASE_SERIES
        and (suffixed := GENDER_SUFFIX.match(code))
    ):
        from_code = GENDERS[suffixed["gender"]]
        if gender not in ("total", from_code):
            raise RowFault(f"Kennzahl {printable(code_cell)} and Geschlecht "
                           f"{printable(gender_cell)} disagree")  # fmt: skip
        code, gender = suffixed["code"], from_code
    if code in KEY_FIGURES:
        return code, gender
    if code in BASE_SERIES:
        slug, group = BASE_SERIES[code]
        if group is None:
            return slug, gender
        return slug, group if gender == "total" else f"{group}_{gender}"
    raise RowFault(f"Kennzahl {printable(code_cell)} is no § 48a key figure (K1 ... K3E4) and no "
                   "base series of docs/import.md")  # fmt: skip


def month(cell: Cell) -> str:
    """The `YYYY-MM` of a Berichtsmonat: a date cell, 202402, "02/2024", "2024-02",
    "Februar 2024"."""
    if isinstance(cell, datetime | date):
        return f"{cell.year:04d}-{cell.month:02d}"
    cell = integral(cell)
    if isinstance(cell, int) and not isinstance(cell, bool):
        cell = str(cell)
    shown = text(cell).casefold()
    for form in PERIOD_FORMS:
        if found := form.match(shown):
            parts = found.groupdict()
            number_of = MONTHS.get(parts["name"]) if "name" in parts else int(parts["month"])
            if number_of is not None and 1 <= number_of <= 12:
                return f"{int(parts['year']):04d}-{number_of:02d}"
    raise RowFault(f"Berichtsmonat {printable(cell)} is not a month (e.g. 02/2024)")


def number(cell: Cell, name: str) -> Decimal | None:
    """A German number ("1.234,5", "-1,4", "24,3 %"), a workbook's number, zero for "-"
    (nothing there); None where the value was not published (`*`, `x`, `.`, empty)."""
    if isinstance(cell, bool):
        raise RowFault(f"{name} {printable(cell)} is not a number")
    if isinstance(cell, int):
        return Decimal(cell)
    if isinstance(cell, float):
        if cell != cell or cell in (float("inf"), float("-inf")):
            raise RowFault(f"{name} {printable(cell)} is not a number")
        return Decimal(format(cell, ".15g"))  # the shortest form, without binary noise
    shown = text(cell).removesuffix("%").strip()
    if shown in NOT_PUBLISHED:
        return None
    if shown in NOTHING:
        return Decimal(0)
    found = GERMAN_NUMBER.match(shown)
    if found is None:
        raise RowFault(f"{name} {printable(cell)} is not a German number (e.g. 1.234,5)")
    digits = found["whole"].replace(".", "") + (f".{found['frac']}" if found["frac"] else "")
    try:
        value = Decimal(digits)
    except InvalidOperation:  # pragma: no cover - the pattern admits digits only
        raise RowFault(f"{name} {printable(cell)} is not a number") from None
    return -value if found["sign"] in MINUSES else value


def check(figure: Figure) -> None:
    """The catalogue's own rules on the figure (a count not negative, a share's numerator not
    above its denominator, the contract's precision, a month since 2005)."""
    data = {
        "jobcenter_id": figure.jobcenter_id, "indicator": figure.indicator,
        "breakdown": figure.breakdown, "period": figure.period, "value": figure.value,
        "numerator": figure.numerator, "denominator": figure.denominator, "status": "final",
    }  # fmt: skip
    try:
        CATALOGUE.decode("MonthlyFigureReported", 1, data)
    except InvalidEvent as error:
        raise RowFault(error.reason) from None


def assign_type(
    types: dict[tuple[str, int], TypeAssignment],
    line: int,
    jobcenter_id: str,
    year: int,
    code_cell: Cell,
    name_cell: Cell,
    version_cell: Cell,
) -> None:
    """Note the row's comparison type of its jobcenter and year; one type per both."""
    code = text(code_cell)
    if not re.fullmatch(r"[A-Za-z0-9]{1,8}", code):
        raise RowFault(f"Vergleichstyp {printable(code_cell)} is not a type code (e.g. IIa)")
    assignment = TypeAssignment(line, jobcenter_id, year, code,
                                text(name_cell) or None, text(version_cell) or None)  # fmt: skip
    known = types.setdefault((jobcenter_id, year), assignment)
    if known.type_code != code:
        raise RowFault(f"Vergleichstyp {code!r} differs from {known.type_code!r} of line "
                       f"{known.line} for the same jobcenter and year")  # fmt: skip

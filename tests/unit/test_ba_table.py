"""Reading the BA statistics' published tables (`zs import`, docs/import.md): German numbers,
values not published, months, codes and genders, bad rows with their line, encodings (UTF-8
with and without BOM, Windows-1252), hostile bytes, and the same table as an XLSX workbook."""

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from services.cli.ba_table import (
    Fault,
    RowFault,
    TableError,
    month,
    number,
    read_table,
    series,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "samples" / "ba-kennzahlen-2024-02.csv"
HEADER = "Jobcenter;Jobcenter Name;Berichtsmonat;Kennzahl;Geschlecht;Wert;Zähler;Nenner"


def table_file(tmp_path: Path, *rows: str, encoding: str = "utf-8", bom: bool = False) -> Path:
    """A CSV of a title line, the header and `rows`, in `encoding`."""
    text = "\r\n".join(["Kennzahlen nach § 48a SGB II, Stand: 26.02.2024", HEADER, *rows])
    path = tmp_path / "table.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1.234", Decimal(1234)), ("1.234,5", Decimal("1234.5")), ("24,3", Decimal("24.3")),
        ("-2,1", Decimal("-2.1")), ("\u22122,1", Decimal("-2.1")), ("2.091.400", Decimal(2091400)),
        ("24,3 %", Decimal("24.3")), (" 17 ", Decimal(17)), ("0,05", Decimal("0.05")),
        ("-", Decimal(0)), ("\u2013", Decimal(0)), (64, Decimal(64)),
        (24.3, Decimal("24.3")), (0.1 + 0.2, Decimal("0.3")),
    ],
)  # fmt: skip
def test_german_numbers_are_read_exactly(cell: object, expected: Decimal) -> None:
    assert number(cell, "Wert") == expected


@pytest.mark.parametrize("cell", ["*", "x", ".", "…", "", None, "   "])
def test_a_value_not_published_is_none_never_zero(cell: object) -> None:
    assert number(cell, "Wert") is None


@pytest.mark.parametrize("cell", ["1,234.5", "1.5", "12.34", "1.2345", "24,3p", "abc", "1e5",
                                  "--1", "NaN", float("nan"), True])  # fmt: skip
def test_a_number_that_is_not_german_is_a_fault(cell: object) -> None:
    with pytest.raises(RowFault, match="Wert"):
        number(cell, "Wert")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("10/2023", "2023-10"), ("2023-10", "2023-10"), ("202310", "2023-10"),
        (202310, "2023-10"), (202310.0, "2023-10"), ("1.10.2023", "2023-10"),
        ("Oktober 2023", "2023-10"),
        ("März 2024", "2024-03"), ("Okt. 2023", "2023-10"), (datetime(2023, 10, 31), "2023-10"),
        (date(2024, 2, 1), "2024-02"),
    ],
)  # fmt: skip
def test_a_berichtsmonat_in_its_published_forms(cell: object, expected: str) -> None:
    assert month(cell) == expected


@pytest.mark.parametrize("cell", ["13/2023", "2023", "Oktember 2023", "", None, "00/2023"])
def test_a_month_that_does_not_exist_is_a_fault(cell: object) -> None:
    with pytest.raises(RowFault, match="Berichtsmonat"):
        month(cell)


@pytest.mark.parametrize(
    ("code", "gender", "expected"),
    [
        ("K2", "Insgesamt", ("k2", "total")), ("K3E2", "Frauen", ("k3e2", "women")),
        ("K2_F", None, ("k2", "women")), ("k2_m", "Männer", ("k2", "men")),
        ("lzb", "Männer", ("ltb_stock", "men")), ("ELB", "", ("elb_stock", "total")),
        ("int", "weiblich", ("integrations", "women")), ("llu", None, ("llu_eur", "total")),
        ("int_allein", "Insgesamt", ("integrations", "single_parents")),
        ("int_allein", "Frauen", ("integrations", "single_parents_women")),
    ],
)  # fmt: skip
def test_codes_and_genders_name_indicator_and_breakdown(
    code: str, gender: str | None, expected: tuple[str, str]
) -> None:
    assert series(code, gender) == expected


@pytest.mark.parametrize(("code", "gender"), [("K4", "Insgesamt"), ("K2", "divers"),
                                              ("K2_F", "Männer"), ("", "Insgesamt")])  # fmt: skip
def test_an_unknown_code_or_gender_is_a_fault(code: str, gender: str) -> None:
    with pytest.raises(RowFault):
        series(code, gender)


def test_the_sample_publication_is_read_whole() -> None:
    table = read_table(SAMPLE)

    assert table.faults == []
    assert table.publication == date(2024, 2, 26)
    assert (len(table.figures), table.suppressed, table.aggregates) == (13, 1, 2)
    first = table.figures[0]
    assert (first.line, first.key) == (5, ("06437", "k2", "total", "2023-10"))
    assert (first.value, first.numerator, first.denominator) == (
        Decimal("24.3"), Decimal(772), Decimal("3176.9"),
    )  # fmt: skip
    assert {(t.jobcenter_id, t.year, t.type_code) for t in table.types} == {
        ("06437", 2023, "IIIb"), ("06435", 2023, "IIb"),
    }  # fmt: skip


def test_a_progress_bar_is_told_each_row_and_the_last_line() -> None:
    told: list[tuple[int, int | None]] = []

    read_table(SAMPLE, lambda line, last: told.append((line, last)))

    lines = len(SAMPLE.read_bytes().splitlines())
    assert [line for line, _ in told] == list(range(1, lines + 1))
    assert {last for _, last in told} == {lines}


def test_bad_rows_are_named_by_their_line_and_reason(tmp_path: Path) -> None:
    path = table_file(
        tmp_path,
        "06437;Odenwaldkreis;10/2023;K2;Insgesamt;24,3;772;3.176,9",
        "06437;Odenwaldkreis;13/2023;K2;Insgesamt;24,3;772;3.176,9",
        "06437;Odenwaldkreis;10/2023;K9;Insgesamt;24,3;772;3.176,9",
        "6437x;Odenwaldkreis;10/2023;K2;Insgesamt;24,3;772;3.176,9",
        "06437;Odenwaldkreis;10/2023;lzb;Insgesamt;1,987.5;;",
        "06437;Odenwaldkreis;10/2023;lzb;Insgesamt;-5;;",
        "06437;Odenwaldkreis;10/2023;K3E2;Insgesamt;120;500;425",
        "06437;Odenwaldkreis;10/2023;K2;Insgesamt;24,4;772;3.176,9",
        "06437;Odenwaldkreis;10/2023;int;Insgesamt;64;;;;extra",
        "06437;Odenwaldkreis;12/2004;int;Insgesamt;64;;",
    )

    table = read_table(path)

    assert [fault.line for fault in table.faults] == list(range(4, 13))
    reasons = {fault.line: fault.reason for fault in table.faults}
    assert "Berichtsmonat '13/2023'" in reasons[4]
    assert "Kennzahl 'K9'" in reasons[5]
    assert "Jobcenter '6437x' is not a 5-digit key" in reasons[6]
    assert "not a German number" in reasons[7]
    assert "must not be negative" in reasons[8]
    assert "above the denominator" in reasons[9]
    assert reasons[10] == "repeats the figure of line 3"
    assert "has 10 cells, the header 8" in reasons[11]
    assert "before 2005-01" in reasons[12]
    assert [figure.line for figure in table.figures] == [3]


@pytest.mark.parametrize(
    ("encoding", "bom"), [("utf-8", True), ("utf-8", False), ("cp1252", False)]
)
def test_utf8_with_or_without_bom_and_windows_1252_read_alike(
    tmp_path: Path, encoding: str, bom: bool
) -> None:
    path = table_file(tmp_path, "06437;Jobcenter Männerstraße;10/2023;lzb;Männer;916;;",
                      encoding=encoding, bom=bom)  # fmt: skip

    table = read_table(path)

    assert table.faults == []
    assert [(f.indicator, f.breakdown, f.value) for f in table.figures] == [
        ("ltb_stock", "men", Decimal(916))
    ]


def test_bytes_that_are_no_text_refuse_the_file(tmp_path: Path) -> None:
    nul = tmp_path / "nul.csv"
    nul.write_bytes(HEADER.encode() + b"\r\n06437;\x00;10/2023;lzb;;1;;\r\n")
    undefined = tmp_path / "undefined.csv"  # 0x81 is in neither UTF-8 nor Windows-1252
    undefined.write_bytes(HEADER.encode("cp1252") + b"\r\n06437;J\x81;10/2023;lzb;;1;;\r\n")

    with pytest.raises(TableError, match="NUL bytes"):
        read_table(nul)
    with pytest.raises(TableError, match=r"line 2: byte 0x81"):
        read_table(undefined)


def test_hostile_cells_are_faults_shown_escaped_and_cut(tmp_path: Path) -> None:
    path = table_file(
        tmp_path,
        "06437;J;10/2023;\x1b[31mK2;Insgesamt;24,3;;",
        "06437;J;10/2023;" + "K" * 10_000 + ";Insgesamt;24,3;;",
        '06437;J;10/2023;K2;Insgesamt;"24,3\n7";;',
    )

    table = read_table(path)

    reasons = [fault.reason for fault in table.faults]
    assert "\\x1b[31mK2" in reasons[0] and "\x1b" not in reasons[0]
    assert len(reasons[1]) < 200
    assert "not a German number" in reasons[2]
    assert table.figures == []


def test_a_file_without_the_header_or_unreadable_is_refused(tmp_path: Path) -> None:
    headless = tmp_path / "headless.csv"
    headless.write_text("Jobcenter;Monat\n06437;10/2023\n")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not a zip")

    with pytest.raises(TableError, match="no header row"):
        read_table(headless)
    with pytest.raises(TableError, match="not a readable XLSX"):
        read_table(broken)
    with pytest.raises(TableError, match="cannot read"):
        read_table(tmp_path / "missing.csv")


def test_a_comma_separated_table_and_a_type_that_changes_within_a_year(tmp_path: Path) -> None:
    path = tmp_path / "comma.csv"
    path.write_text(
        "Jobcenter,Berichtsmonat,Kennzahl,Geschlecht,Wert,Vergleichstyp\n"
        '06437,10/2023,K2,Insgesamt,"24,3",IIIb\n'
        '06437,11/2023,K2,Insgesamt,"24,1",IIa\n'
    )

    table = read_table(path)

    assert [f.value for f in table.figures] == [Decimal("24.3")]
    assert table.faults == [
        Fault(3, "Vergleichstyp 'IIa' differs from 'IIIb' of line 2 for the same jobcenter "
                 "and year"),
    ]  # fmt: skip


def test_the_sample_as_an_xlsx_workbook_reads_as_the_csv(tmp_path: Path) -> None:
    """The published workbook holds numbers as numbers, months as dates and may lose a key's
    leading zero; read-only mode streams its rows."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Kennzahlen nach § 48a SGB II"])
    sheet.append(["Stand: 26.02.2024"])
    sheet.append([])
    sheet.append(HEADER.split(";"))
    sheet.append([6437.0, "Odenwaldkreis", datetime(2023, 10, 1), "K2", "Insgesamt", 24.3, 772,
                  3176.9])  # fmt: skip
    sheet.append(["06437", "Odenwaldkreis", "10/2023", "lzb", "Frauen", 1071, None, None])
    sheet.append(["06437", "Odenwaldkreis", "10/2023", "K1E3", "Männer", "*", "*", "*"])
    sheet.append(["Deutschland", None, "10/2023", "K2", "Insgesamt", 23.8, 884112, 3714756])
    sheet.append(["Quelle: Statistik der Bundesagentur für Arbeit"])
    path = tmp_path / "table.xlsx"
    workbook.save(path)

    table = read_table(path)

    assert table.faults == []
    assert table.publication == date(2024, 2, 26)
    assert [(f.line, f.key, f.value, f.denominator) for f in table.figures] == [
        (5, ("06437", "k2", "total", "2023-10"), Decimal("24.3"), Decimal("3176.9")),
        (6, ("06437", "ltb_stock", "women", "2023-10"), Decimal(1071), None),
    ]
    assert (table.suppressed, table.aggregates) == (1, 1)


def test_a_wide_table_has_a_figure_per_code_column(tmp_path: Path) -> None:
    """One row per jobcenter and month, one column per code (the gender as the code's suffix):
    each filled cell is a figure without numerator and denominator."""
    path = tmp_path / "wide.csv"
    path.write_text(
        "Kennzahlen nach § 48a SGB II\n"
        "Jobcenter;Name;Berichtsmonat;K2;K2_F;K2_M;elb;Bemerkung\n"
        "06437;Odenwaldkreis;10/2023;24,3;19,8;28,1;3.182;\n"
        "06435;Main-Kinzig-Kreis;10/2023;27,1;*;x;6.210;vorläufig\n"
        "06;Hessen;10/2023;25,9;21,0;30,2;178.803;\n"
        "05162;Rhein-Kreis Neuss;10/2023;24,3;1.5;28,1;3.182;\n",
        encoding="utf-8",
    )

    table = read_table(path)

    assert [(f.line, f.jobcenter_id, f.indicator, f.breakdown, f.value) for f in table.figures] == [
        (3, "06437", "k2", "total", Decimal("24.3")),
        (3, "06437", "k2", "women", Decimal("19.8")),
        (3, "06437", "k2", "men", Decimal("28.1")),
        (3, "06437", "elb_stock", "total", Decimal(3182)),
        (4, "06435", "k2", "total", Decimal("27.1")),
        (4, "06435", "elb_stock", "total", Decimal(6210)),
    ]
    assert {f.numerator for f in table.figures} == {None}
    assert (table.suppressed, table.aggregates) == (2, 1)
    assert table.faults == [Fault(6, "K2_F '1.5' is not a German number (e.g. 1.234,5)")]
    assert table.ignored_columns == ["Bemerkung"]


def test_the_most_specific_header_names_a_column(tmp_path: Path) -> None:
    """`Träger` (here the carrier's kind) left of `Jobcenter`: the jobcenter's key is read from
    `Jobcenter`; a column `Typ` is not taken for the comparison type."""
    path = tmp_path / "carrier.csv"
    path.write_text(
        "Träger;Typ;Jobcenter;Berichtsmonat;Kennzahl;Wert\nzkT;zkT;06437;10/2023;lzb;1.987\n",
        encoding="utf-8",
    )

    table = read_table(path)

    assert [f.key for f in table.figures] == [("06437", "ltb_stock", "total", "2023-10")]
    assert table.types == []
    assert table.ignored_columns == ["Träger", "Typ"]

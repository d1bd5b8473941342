"""Demo data drawn from published target agreements, as upstream envelopes (docs/contract.md).

Odenwaldkreis 2021/2022 (HMSI agreements) with BA monthly figures 2020 to
September 2022, Main-Kinzig-Kreis 2018 (budgets and projects), Rhein-Kreis Neuss
2012 (qualitative goals with the Land's support) and the NRW framework agreement "NRW inklusiv"
(2018) that the Rhein-Kreis Neuss joined, each jobcenter's comparison type for 2020 to 2022
(illustrative codes and names, docs/domain.md section 11), and a Land agreement of Hessen for
2022 measured on the summed series of its members (docs/domain.md section 12; invented: the
demo's only Hessian zkT with 2022 figures is the Odenwaldkreis, so it is the one member).

Invariants: deterministic (fixed ids, sources and timestamps); in publication order (sorted by
`occurred_at`, ties in build order), so every envelope is valid where it stands; the latest
2021 Odenwaldkreis figures give the published results: 718 integrations, 2,035 long-term
recipients on average. Monthly values are invented but consistent with them.

Its size: mostly tables of monthly figures; the code is a few builders.
"""

from typing import Any

Envelope = dict[str, Any]
Row = tuple[str, str, str, str, int, str, str, str]
"""A target: target_id, indicator, breakdown, comparator, value, unit, aggregation, label."""
Goal = tuple[str, str, str, tuple[str, ...]]
"""A qualitative goal: goal_id, section, text, the Land's support."""
Split = dict[int, tuple[tuple[int, ...], tuple[int, ...]]]
"""Final monthly values per year: (totals, women); men = total - women."""

ODW, MKK, RKN = "06437", "06435", "05162"
HMSI = "Hessisches Ministerium für Soziales und Integration (HMSI)"
MAIS = "Ministerium für Arbeit, Integration und Soziales des Landes Nordrhein-Westfalen (MAIS)"
BA = "ba-statistik"
LAG = 3  # months: the BA's waiting period before a month is published
CE_LAG = 9  # continuous employment needs the six months after the integration as well

JOBCENTERS = (
    (RKN, "Jobcenter Rhein-Kreis Neuss", "DE-NW", "gE", "2012-01-02T08:00:00Z"),
    (MKK, "Kommunales Center für Arbeit Main-Kinzig-Kreis", "DE-HE", "zkT", "2018-01-02T08:00:00Z"),
    (ODW, "Kommunales Job-Center Odenwaldkreis", "DE-HE", "zkT", "2020-01-02T08:00:00Z"),
)
COMPARISON_TYPES = {
    ODW: ("Ib", "Ländlich geprägte Gebiete mit unterdurchschnittlicher Arbeitslosigkeit"),
    MKK: ("Ib", "Ländlich geprägte Gebiete mit unterdurchschnittlicher Arbeitslosigkeit"),
    RKN: ("IIa", "Städtisch geprägte Gebiete mit durchschnittlicher Arbeitslosigkeit"),
}
"""Each demo jobcenter's comparison type (illustrative, not the IAB's published assignment)."""
TYPOLOGY = ("SGB-II-Typisierung des IAB", "2014")
TYPE_YEARS = (2020, 2021, 2022)
"""The years of the demo's monthly figures."""

INTEGRATIONS: Split = {
    2020: ((52, 49, 45, 38, 41, 50, 55, 57, 60, 54, 51, 44),
           (21, 19, 18, 15, 16, 20, 22, 23, 24, 22, 20, 17)),
    2021: ((48, 52, 66, 60, 58, 63, 61, 67, 72, 62, 59, 50),  # 718
           (19, 21, 26, 24, 23, 25, 24, 27, 29, 25, 23, 20)),
    2022: ((55, 60, 71, 66, 64, 68, 64, 70, 75),
           (21, 23, 27, 25, 24, 26, 24, 26, 28)),
}  # fmt: skip
LTB_STOCK: Split = {
    2020: ((2071, 2078, 2085, 2094, 2101, 2098, 2092, 2086, 2080, 2075, 2070, 2066),
           (1125, 1128, 1132, 1137, 1140, 1138, 1134, 1131, 1128, 1125, 1122, 1119)),
    2021: ((2060, 2055, 2048, 2041, 2036, 2030, 2028, 2025, 2022, 2024, 2031, 2020),  # 24,420
           (1112, 1110, 1106, 1102, 1099, 1096, 1095, 1093, 1092, 1093, 1097, 1091)),
    2022: ((2030, 2026, 2021, 2015, 2012, 2008, 2004, 2001, 1998),
           (1098, 1096, 1094, 1091, 1089, 1087, 1085, 1083, 1081)),
}  # fmt: skip
# First (preliminary) publications that a later correction replaces: (total, women).
PRELIMINARY = {
    ("integrations", "2021-03"): (63, 25),
    ("integrations", "2021-09"): (70, 28),
    ("ltb_stock", "2021-11"): (2038, 1100),
    ("integrations", "2022-04"): (62, 23),
}
CORRECTION_REASON = "Revision der BA-Statistik nach Ablauf der dreimonatigen Wartezeit"
# Continuous employment after integration (K2E3): (still employed, integrations) per month.
CONTINUOUS_EMPLOYMENT = {
    2021: ((21, 22, 25, 23, 23, 24, 24, 25, 26, 24, 23, 21),  # 281 / 500 = 56.2 %
           (38, 40, 44, 42, 41, 43, 42, 44, 46, 43, 40, 37)),
    2022: ((23, 25, 27), (40, 42, 47)),
}  # fmt: skip
U25_TRAINING = {
    2021: (2, 1, 2, 2, 3, 4, 8, 19, 16, 5, 2, 1),
    2022: (2, 2, 3, 2, 4, 5, 9, 21, 18),
}
LLU_EUR = {
    2021: (1941200, 1936800, 1952300, 1944100, 1938700, 1931500,
           1929900, 1925400, 1918600, 1915200, 1912800, 1921300),
    2022: (1928400, 1922700, 1930100, 1919500, 1915800, 2046300, 2071900, 2080200, 2085600),
}  # fmt: skip

INTEGRATIONS_LABEL = "Integrationen in sv-Beschäftigung, Berufsausbildung oder Selbständigkeit"
LTB_LABEL = "Durchschnittlicher Bestand an Langzeitleistungsbeziehenden"
ODW_2021_TARGETS: tuple[Row, ...] = (
    ("integrations-total", "integrations", "total", "at_least", 690, "count", "sum",
     INTEGRATIONS_LABEL),
    ("ltb-total", "ltb_stock", "total", "at_most", 2030, "count", "mean", LTB_LABEL),
)  # fmt: skip
ODW_2022_TARGETS: tuple[Row, ...] = (
    *((f"integrations-{b}", "integrations", b, "at_least", v, "count", "sum", INTEGRATIONS_LABEL)
      for b, v in (("total", 770), ("women", 308), ("men", 462))),
    *((f"ltb-{b}", "ltb_stock", b, "at_most", v, "count", "mean", LTB_LABEL)
      for b, v in (("total", 2020), ("women", 1100), ("men", 920))),
    ("continuous-employment-total", "continuous_employment", "total", "at_least", 58, "percent",
     "ratio", "Kontinuierliche Beschäftigung nach Integration: Anstieg um 1,8 Prozent auf 58 %"),
    ("u25-training-integrations-total", "u25_training_integrations", "total", "at_least", 70,
     "count", "sum", "Integrationen unter 25-Jähriger in voll qualifizierende Ausbildung"),
)  # fmt: skip
HE_ZKT_2022 = "he-zkt-2022"
"""The Land agreement of the demo (§ 48b Abs. 1 Nr. 3 SGB II: the BMAS with Hessen for its zkT)."""
HE_ZKT_2022_TARGETS: tuple[Row, ...] = (
    ("integrations-total", "integrations", "total", "at_least", 770, "count", "sum",
     INTEGRATIONS_LABEL),
    ("ltb-total", "ltb_stock", "total", "at_most", 2020, "count", "mean", LTB_LABEL),
)  # fmt: skip
ODW_2022_U25_PLAN = (2, 4, 7, 9, 13, 18, 26, 46, 62, 66, 68, 70)
"""An agreed cumulative monthly plan (invented) for the 70 training integrations of under-25s:
most start in August and September, so the plan path is far from linear."""
ODW_2022_GOALS: tuple[Goal, ...] = (
    ("schwerpunkt", "Schwerpunkt", "Erwerbsfähige Leistungsberechtigte möglichst dauerhaft in "
     "eine existenzsichernde Erwerbstätigkeit eingliedern, die Hilfebedürftigkeit verringern und "
     "langfristigem Leistungsbezug entgegenwirken.",
     ("Regelmäßiger Austausch des HMSI mit dem Kommunalen Job-Center über die Ziele",)),
    ("gleichstellung", "Chancengleichheit", "Geschlechterspezifische Ziele für alle Bereiche, "
     "freiwillig schon 2022 (ab 2023 verpflichtend): gleichberechtigte Teilhabe von Frauen und "
     "Männern am Arbeitsmarkt, belegt durch Kennzahlen.", ()),
    ("llu-beobachtung", "Leistungen zum Lebensunterhalt", "Die Summe der Leistungen zum "
     "Lebensunterhalt wird im Jahresverlauf 2022 genau beobachtet (ohne Zielwert).", ()),
    ("reha", "Menschen mit Behinderungen", "Nachhaltige Förderung der Integration von Menschen "
     "mit Behinderungen: Zusammenarbeit mit Rehabilitationsträgern verstärken, regional "
     "verfügbare Angebote zielführend nutzen.", ()),
)  # fmt: skip
MKK_BUDGETS = (
    ("ausbildung-qualifizierung", 1289900, (
        "Ausbildungsvorbereitung: Startklar! - Kreativ ins Berufsleben",
        "Ausbildung und Ausbildungscoaching: Ausbildung für Flüchtlinge (integrativ, kooperativ)"
        " - 3-jährig",
        "Ausbildung und Ausbildungscoaching: Ausbildung mein Ziel plus Sprache für Geflüchtete",
        "Qualifizierung zur Arbeitsmarktintegration, Fachkräftesicherung: Karrierestart mit Kind",
        "Qualifizierung zur Arbeitsmarktintegration, Fachkräftesicherung: Kompetenzfeststellung"
        " - Basiseignungsfeststellung",
        "Qualifizierung zur Arbeitsmarktintegration, Fachkräftesicherung:"
        " Einstiegsalphabetisierung",
        "Weiterbildung für Personal: BASS - Bachelor of Arts - Soziale Sicherung, Inklusion,"
        " Verwaltung",
        "Weiterbildung für Personal: Personalentwicklung im Bereich Aktive Leistung",
    )),
    ("arbeitsmarkt", 204400, (
        "Beratung, Begleitung, Coaching, Qualifizierung für den Wiedereinstieg: Berufsorientierung"
        " für Migranten (+ Sprache)",
        "Beratung, Begleitung, Coaching, Qualifizierung für den Wiedereinstieg: Praxis-Check FuA",
    )),
)  # fmt: skip
MKK_GOALS: tuple[Goal, ...] = (
    ("aqb", "§ 1 I. Ausbildungs- und Qualifizierungsbudget", "Beschäftigungsfähigkeit "
     "benachteiligter Menschen steigern, Ausbildungsfähigkeit sichern, Ausbildungsabschlüsse "
     "ermöglichen, durch längerfristige, arbeitsmarktnahe Qualifizierung zur eigenständigen "
     "Existenzsicherung befähigen; digitale Kompetenzen fördern.",
     ("Haushaltsmittel von 1.289.900 Euro", "Optimierung der Schnittstellen zu SGB II, III, "
      "VIII, XII und AsylbLG, Einbindung der regionalen Wirtschaft")),
    ("amb", "§ 1 II. Arbeitsmarktbudget", "Beschäftigungsfähigkeit benachteiligter Personen "
     "durch präventive, flankierende und kultursensible Beratungs- und Qualifizierungsangebote "
     "erhöhen, auch für den beruflichen Wiedereinstieg der „stillen Reserve“.",
     ("Haushaltsmittel von 204.400 Euro",)),
    ("un-brk", "§ 3 Umsetzung der UN-Behindertenrechtskonvention", "Nachhaltige Förderung von "
     "Maßnahmen zur Integration von Menschen mit Behinderungen in den Arbeitsprozess.", ()),
)  # fmt: skip
MKK_DEVIATIONS = (
    ("2018-06", "ausbildung-qualifizierung", -18500,
     "Einstiegsalphabetisierung startet später: nicht verausgabte Mittel zurückgegeben"),
    ("2018-09", "arbeitsmarkt", 6200,
     "Zusätzliche Plätze im Praxis-Check FuA aus Restmitteln des Landes"),
)  # fmt: skip
_EXCHANGE = "praxisorientierten Informationsaustausch"
_TRANSFER = "Transfer guter Praxis aus den Jobcentern sowie bereits erprobter Angebote des MAIS"
RKN_GOALS: tuple[Goal, ...] = (
    ("eingliederungsleistungen", "I.1 Verbindung der Eingliederungsleistungen",
     "Leistungsprozesse im Hinblick auf die Verbindung der Eingliederungsleistungen verbessern: "
     "jährliche Anpassung der Flankierenden Dienste (§ 16a SGB II) und ihre Verknüpfung mit den "
     "Instrumenten nach §§ 16, 16b-f SGB II, fortgesetzt 2012.",
     (f"{_EXCHANGE} und Transfer, z. B. in Workshops", "Modellprojekte zur Verbindung der "
      "Eingliederungsleistungen gem. §§ 16a, 28 SGB II und §§ 16, 16b-f SGB II")),
    ("migration", "II.1 Integrationsquote von Personen mit Migrationshintergrund",
     "Berufliche Integration von Menschen mit Migrationshintergrund, vor allem zugewanderter "
     "Jugendlicher, mit den Regionalstellen (RAA); Anerkennung ausländischer Abschlüsse.",
     ("Verbesserung gesetzlicher Rahmenbedingungen zur Anerkennung von Abschlüssen",
      "Koordinierung der Angebote, Verweisberatung und Berufswegeplanung",
      "Kompetenzfeststellungsverfahren und berufsbezogene Sprachförderung")),
    ("grosse-bg", "II.2 Integrationsquote von Personen in großen Bedarfsgemeinschaften",
     "Überwindung der Hilfebedürftigkeit großer Bedarfsgemeinschaften.",
     ("Analysen zu großen Bedarfsgemeinschaften und Integrationsstrategien", _TRANSFER)),
    ("oeffentlich-gefoerdert", "II.3 Entwicklung öffentlich geförderter Beschäftigung",
     "Integration arbeitsmarktferner Langzeitleistungsbeziehender in sv-pflichtige Beschäftigung, "
     "u. a. durch eine Dienstleistungsagentur für Privathaushalte (ohne dauerhafte Förderung).",
     ("Modellhafte Ansätze und Begleitung der Umsetzung", f"{_EXCHANGE} und Transfer")),
    ("jugendliche", "III.1 Integration von Jugendlichen in Ausbildung und Beschäftigung",
     "Bessere Bildungschancen durch passgenauen Einsatz der „Schulsozialarbeiter Bildung und "
     "Teilhabe“ in jeder Kommune des Rhein-Kreises Neuss.",
     ("Neugestaltung des Übergangssystems Schule-Beruf", "Initiative Jugend in Arbeit plus",
      _EXCHANGE, "ggf. Beratung zu Angeboten des MAIS", _TRANSFER,
      "Frühzeitige, passgenaue Eingliederungsstrategien für Jugendliche")),
    ("frauen", "III.2 Erhöhung der Erwerbsbeteiligung von Frauen",
     "Beratungsqualität für alleinerziehende Frauen verbessern: Netzwerk „Aktiv A“, Allianz "
     "Wiedereinstieg (Kompass Wiedereinstieg, Lotsenwerk Wiedereinstieg).",
     (_EXCHANGE, "ggf. Beratung zu Angeboten des MAIS", f"{_TRANSFER}, z. B. Kinderbetreuung",
      "Analyse des Beschäftigungspotentials, Erwerbs- und Berufsorientierung",
      "die Fachkräfteinitiative")),
)  # fmt: skip


# The NRW framework agreement "NRW inklusiv" (seed 002: Kreis Neuss, Vorlage 50/2639/XVI/2018).
# The seed dates the agreement only "im Februar 2018", so `signed_on` is left out; it was sent to
# the jobcenters with the MAGS NRW letter of 8 March 2018 (the envelope's `occurred_at`). The
# measures paraphrase what the seed says the catalogue of measures is for; the catalogue itself
# was an attachment the seed does not reproduce.
NRW_INKLUSIV = "nrw-inklusiv-2018"
NRW_INKLUSIV_TITLE = (
    "Rahmenvereinbarung zur Verbesserung der beruflichen Integration von arbeitsuchenden "
    "Menschen mit Beeinträchtigungen in der Grundsicherung für Arbeitsuchende (SGB II)"
)
NRW_INKLUSIV_PARTIES = (
    "Ministerium für Arbeit, Gesundheit und Soziales des Landes Nordrhein-Westfalen (MAGS NRW)",
    "Regionaldirektion Nordrhein-Westfalen der Bundesagentur für Arbeit",
    "Städtetag Nordrhein-Westfalen",
    "Landkreistag Nordrhein-Westfalen (LKT NRW)",
)
NRW_INKLUSIV_GOALS = (
    "Verbesserung der Arbeitsmarktchancen beeinträchtigter Menschen in NRW, die Leistungen der "
    "Grundsicherung für Arbeitsuchende beziehen",
    "Mitgliedschaft der beitretenden Jobcenter in der Landesinitiative „NRW inklusiv“ "
    "(Berechtigung zur Verwendung des Logos der Landesinitiative)",
)
RKN_CARRIERS = ("Rhein-Kreis Neuss", "Agentur für Arbeit Mönchengladbach")
RKN_INKLUSIV_MEASURES = (
    "Kritische Prüfung der Aufstellung des Jobcenters im Bereich Inklusionskompetenz",
    "Vorhandene Strukturen für Menschen mit Behinderungen und gesundheitlichen Einschränkungen "
    "effektiv und zielführend ergänzen und ausbauen",
    "Konkrete Maßnahmen und Ziele zur beruflichen Integration von Menschen mit "
    "Beeinträchtigungen durch die Geschäftsführung erarbeiten und mit den Trägern abstimmen",
)


def demo_envelopes() -> list[Envelope]:
    """All demo envelopes in the order an upstream system would publish them."""
    envelopes = [*_jobcenters(), *_comparison_types(), *_rkn_2012(), *_mkk_2018(),
                 *_nrw_inklusiv(), *_odenwald(), *_figures()]  # fmt: skip
    return sorted(envelopes, key=lambda envelope: str(envelope["occurred_at"]))


def _envelope(message_id: str, source: str, type_: str, at: str, data: Envelope) -> Envelope:
    """One upstream envelope (schema version 1)."""
    return {"message_id": f"demo-{message_id}", "source": source, "type": type_,
            "schema_version": 1, "occurred_at": at, "data": data}  # fmt: skip


def _jobcenters() -> list[Envelope]:
    return [
        _envelope(f"jobcenter-{jc}", BA, "JobcenterRegistered", at,
                  {"jobcenter_id": jc, "name": name, "land": land, "kind": kind,
                   "district_key": jc})
        for jc, name, land, kind, at in JOBCENTERS
    ]  # fmt: skip


def _comparison_types() -> list[Envelope]:
    """The BA statistics' assignment of each demo jobcenter to its type, early in each year."""
    typology, version = TYPOLOGY
    return [
        _envelope(f"type-{jc}-{year}", BA, "ComparisonTypeAssigned", f"{year}-01-15T08:00:00Z",
                  {"jobcenter_id": jc, "year": year, "type_code": code, "type_name": name,
                   "typology": typology, "typology_version": version})
        for year in TYPE_YEARS
        for jc, (code, name) in COMPARISON_TYPES.items()
    ]  # fmt: skip


def _event(agreement_id: str, key: str, type_: str, at: str, **data: Any) -> Envelope:
    """An agreement event, published by the Land's side (RKN: the district's report)."""
    source = "kreis-neuss" if agreement_id.startswith("rkn-") else "hmsi"
    data = {"agreement_id": agreement_id, **data}
    return _envelope(f"{agreement_id}-{key}", source, type_, at, data)


def _conclusion(agreement_id: str, at: str, jobcenter_id: str, parties: list[str],
               title: str | None = None) -> Envelope:  # fmt: skip
    extra = {"title": title} if title else {}
    year = int(agreement_id[-4:])
    return _event(agreement_id, "concluded", "AgreementConcluded", at,
                  jobcenter_id=jobcenter_id, year=year, parties=parties, **extra)  # fmt: skip


def _targets(agreement_id: str, at: str, rows: tuple[Row, ...]) -> list[Envelope]:
    fields = ("target_id", "indicator", "breakdown", "comparator", "value", "unit",
              "aggregation", "label")  # fmt: skip
    return [_event(agreement_id, f"target-{row[0]}", "TargetSet", at,
                   **dict(zip(fields, row, strict=True))) for row in rows]  # fmt: skip


def _goals(agreement_id: str, at: str, goals: tuple[Goal, ...]) -> list[Envelope]:
    return [_event(agreement_id, f"goal-{goal_id}", "QualitativeGoalSet", at, goal_id=goal_id,
                   section=section, text=text, state_support=list(support))
            for goal_id, section, text, support in goals]  # fmt: skip


def _rkn_2012() -> list[Envelope]:
    at = "2012-05-15T09:00:00Z"
    title = (
        "Vereinbarung zwischen dem MAIS NRW und dem Rhein-Kreis Neuss zur Erreichung der "
        "Ziele der Grundsicherung für Arbeitsuchende im Jahr 2012"
    )
    return [_conclusion("rkn-2012", at, RKN, [MAIS, "Rhein-Kreis Neuss"], title),
            *_goals("rkn-2012", at, RKN_GOALS)]  # fmt: skip


def _mkk_2018() -> list[Envelope]:
    at, mkk = "2018-03-15T09:00:00Z", "mkk-2018"
    title = (
        "Zielvereinbarung 2018 zur Umsetzung des hessischen Ausbildungs- und "
        "Qualifizierungsbudgets und des Arbeitsmarktbudgets"
    )
    summary = (
        "Zielnachhaltedialog zum Stand der Umsetzung beider Budgets; die unterjährigen "
        "Abweichungen werden bei der Beurteilung der Zielerreichung berücksichtigt."
    )
    return [
        _conclusion(mkk, at, MKK, [HMSI, "Main-Kinzig-Kreis"], title),
        *(_event(mkk, f"budget-{line}", "BudgetAllocated", at, budget_line=line,
                 amount_eur=amount, measures=list(measures))
          for line, amount, measures in MKK_BUDGETS),
        *_goals(mkk, at, MKK_GOALS),
        *(_event(mkk, f"deviation-{period}-{line}", "BudgetDeviationRecorded",
                 f"{period}-28T10:00:00Z", budget_line=line, period=period, amount_eur=amount,
                 reason=reason)
          for period, line, amount, reason in MKK_DEVIATIONS),
        _event(mkk, "dialog-2018-10-10", "DialogHeld", "2018-10-11T10:00:00Z",
               held_on="2018-10-10", summary=summary),
    ]  # fmt: skip


def _nrw_inklusiv() -> list[Envelope]:
    """The framework agreement, and the Rhein-Kreis Neuss joining it by the MAGS NRW deadline
    (14 May 2018) after both carriers agreed in the steering meeting of 7 May 2018."""
    framework = {"framework_id": NRW_INKLUSIV}
    return [
        _envelope(f"{NRW_INKLUSIV}-concluded", "mags-nrw", "FrameworkAgreementConcluded",
                  "2018-03-08T09:00:00Z",
                  framework | {"land": "DE-NW", "title": NRW_INKLUSIV_TITLE,
                               "parties": list(NRW_INKLUSIV_PARTIES),
                               "join_deadline": "2018-05-14",
                               "goals": list(NRW_INKLUSIV_GOALS)}),
        _envelope(f"{NRW_INKLUSIV}-joined-{RKN}", "kreis-neuss", "FrameworkJoined",
                  "2018-05-14T09:00:00Z",
                  framework | {"jobcenter_id": RKN, "joined_on": "2018-05-14",
                               "approved_by": list(RKN_CARRIERS), "approved_on": "2018-05-07",
                               "measures": list(RKN_INKLUSIV_MEASURES)}),
    ]  # fmt: skip


def _odenwald() -> list[Envelope]:
    parties, dialog_at = [HMSI, "Odenwaldkreis"], "2022-06-15T10:00:00Z"
    review = (
        "Zielsteuerungsdialog in Erbach: Bilanz 2021 mit 718 Integrationen (Ziel 690) "
        "und 2.035 Langzeitleistungsbeziehenden im Jahresdurchschnitt (Ziel 2.030)."
    )
    praise = (
        "Zielsteuerungsdialog in Erbach: das HMSI hebt die ambitionierten Ziele 2022 "
        "lobend hervor; Schwerpunkte Beratung, Maßnahmen- und Qualifizierungsangebote."
    )
    at_2021, at_2022 = "2021-04-20T09:00:00Z", "2022-05-18T09:00:00Z"
    return [
        _conclusion("odw-2021", at_2021, ODW, parties),
        *_targets("odw-2021", at_2021, ODW_2021_TARGETS),
        _event("odw-2021", "closed", "AgreementClosed", "2022-04-05T10:00:00Z",
               closed_on="2022-04-05"),
        _event("odw-2021", "dialog-2022-06-14", "DialogHeld", dialog_at, held_on="2022-06-14",
               summary=review),
        _conclusion("odw-2022", at_2022, ODW, parties),
        *_targets("odw-2022", at_2022, ODW_2022_TARGETS),
        *_goals("odw-2022", at_2022, ODW_2022_GOALS),
        _event("odw-2022", "dialog-2022-06-14", "DialogHeld", dialog_at, held_on="2022-06-14",
               summary=praise),
        _event("odw-2022", "plan-u25", "TargetPlanSet", dialog_at,
               target_id="u25-training-integrations-total", plan=list(ODW_2022_U25_PLAN),
               reason="Planwerte aus dem Zielsteuerungsdialog"),
        *_hessen_2022(),
    ]  # fmt: skip


def _hessen_2022() -> list[Envelope]:
    """The Land agreement of Hessen for its zkT in 2022, with its members and targets."""
    at = "2022-05-10T09:00:00Z"
    return [
        _event(HE_ZKT_2022, "concluded", "AgreementConcluded", at, level="land", land="DE-HE",
               year=2022, title="Zielvereinbarung 2022 für die zugelassenen kommunalen Träger",
               parties=["Bundesministerium für Arbeit und Soziales (BMAS)", HMSI]),
        _event(HE_ZKT_2022, "members", "AgreementMembersSet", at, jobcenter_ids=[ODW],
               reason="Zugelassene kommunale Träger mit Zielvereinbarung 2022"),
        *_targets(HE_ZKT_2022, at, HE_ZKT_2022_TARGETS),
    ]  # fmt: skip


def _published(period: str, lag: int) -> str:
    """When the BA publishes `period` after `lag` months (the 27th, 08:00 UTC)."""
    index = int(period[:4]) * 12 + int(period[5:7]) - 1 + lag
    return f"{index // 12:04d}-{index % 12 + 1:02d}-27T08:00:00Z"


def _figure(indicator: str, period: str, breakdown: str, value: float, *, lag: int = LAG,
            correct: bool = False, parts: tuple[int, int] | None = None) -> Envelope:  # fmt: skip
    """A monthly Odenwaldkreis figure; a correction comes one month after the first report."""
    key = f"ba-{ODW}-{period}-{indicator}-{breakdown}"
    data: Envelope = {"jobcenter_id": ODW, "indicator": indicator, "period": period,
                      "breakdown": breakdown, "value": value, "status": "final"}  # fmt: skip
    if parts is not None:
        data |= {"numerator": parts[0], "denominator": parts[1]}
    if correct:
        data["reason"] = CORRECTION_REASON
        return _envelope(f"{key}-rev1", BA, "MonthlyFigureCorrected",
                         _published(period, lag + 1), data)  # fmt: skip
    if (indicator, period) in PRELIMINARY:
        data["status"] = "preliminary"
    return _envelope(key, BA, "MonthlyFigureReported", _published(period, lag), data)


def _split_figures(indicator: str, series: Split) -> list[Envelope]:
    """Total, women and men per month; a preliminary first report where one is listed."""
    envelopes = []
    for year, (totals, women) in series.items():
        for month, final in enumerate(zip(totals, women, strict=True), start=1):
            period = f"{year}-{month:02d}"
            first = PRELIMINARY.get((indicator, period))
            vintages = [(final, False)] if first is None else [(first, False), (final, True)]
            for (total, female), correct in vintages:
                values = (("total", total), ("women", female), ("men", total - female))
                envelopes += [_figure(indicator, period, breakdown, value, correct=correct)
                              for breakdown, value in values]  # fmt: skip
    return envelopes


def _figures() -> list[Envelope]:
    envelopes = [*_split_figures("integrations", INTEGRATIONS),
                 *_split_figures("ltb_stock", LTB_STOCK)]  # fmt: skip
    for indicator, series in (("u25_training_integrations", U25_TRAINING), ("llu_eur", LLU_EUR)):
        envelopes += [_figure(indicator, f"{year}-{month:02d}", "total", value)
                      for year, values in series.items()
                      for month, value in enumerate(values, start=1)]  # fmt: skip
    for year, (employed, integrated) in CONTINUOUS_EMPLOYMENT.items():
        for month, parts in enumerate(zip(employed, integrated, strict=True), start=1):
            percent = round(100 * parts[0] / parts[1], 1)
            envelopes.append(_figure("continuous_employment", f"{year}-{month:02d}", "total",
                                     percent, lag=CE_LAG, parts=parts))  # fmt: skip
    return envelopes

/* Everything the dashboard says in German: names for codes the API answers with, and de-DE
   number and date formats. One dictionary; pages never show a raw code or slug. */

export const STATUS = {
  achieved: "erreicht", missed: "verfehlt", on_track: "auf Kurs", at_risk: "gefährdet",
  no_data: "keine Daten",
};

export const LAND = {
  "DE-BW": "Baden-Württemberg", "DE-BY": "Bayern", "DE-BE": "Berlin", "DE-BB": "Brandenburg",
  "DE-HB": "Bremen", "DE-HH": "Hamburg", "DE-HE": "Hessen", "DE-MV": "Mecklenburg-Vorpommern",
  "DE-NI": "Niedersachsen", "DE-NW": "Nordrhein-Westfalen", "DE-RP": "Rheinland-Pfalz",
  "DE-SL": "Saarland", "DE-SN": "Sachsen", "DE-ST": "Sachsen-Anhalt",
  "DE-SH": "Schleswig-Holstein", "DE-TH": "Thüringen",
};

/** Base series and § 48a key figures (docs/domain.md, the key-figure table). */
export const INDICATOR = {
  integrations: "Integrationen",
  ltb_stock: "Bestand Langzeitleistungsbeziehende",
  elb_stock: "Bestand erwerbsfähige Leistungsberechtigte",
  llu_eur: "Leistungen zum Lebensunterhalt",
  kdu_eur: "Leistungen für Unterkunft und Heizung",
  continuous_employment: "Kontinuierliche Beschäftigung nach Integration",
  u25_training_integrations: "Integrationen unter 25 in Ausbildung",
  k1: "K1 Veränderung der Leistungen zum Lebensunterhalt",
  k1e1: "K1E1 Veränderung der Leistungen für Unterkunft und Heizung",
  k1e2: "K1E2 Veränderung der Zahl der erwerbsfähigen Leistungsberechtigten",
  k1e3: "K1E3 Zugangsrate erwerbsfähige Leistungsberechtigte",
  k1e4: "K1E4 Abgangsrate erwerbsfähige Leistungsberechtigte",
  k2: "K2 Integrationsquote",
  k2e1: "K2E1 Aufnahme geringfügiger Beschäftigung",
  k2e2: "K2E2 Aufnahme öffentlich geförderter Beschäftigung",
  k2e3: "K2E3 Kontinuierliche Beschäftigung nach Integration",
  k2e4: "K2E4 Integrationsquote der Alleinerziehenden",
  k3: "K3 Veränderung der Zahl der Langzeitleistungsbeziehenden",
  k3e1: "K3E1 Integrationsquote der Langzeitleistungsbeziehenden",
  k3e2: "K3E2 Aktivierungsquote der Langzeitleistungsbeziehenden",
  k3e3: "K3E3 Zugangsrate Langzeitleistungsbeziehende",
  k3e4: "K3E4 Abgangsrate Langzeitleistungsbeziehende",
};

export const BREAKDOWN = { total: "insgesamt", women: "Frauen", men: "Männer" };

/** How a year's result is computed from the months (docs/domain.md, section 4). */
export const AGGREGATION = {
  sum: "Summe der Monate",
  mean: "Jahresdurchschnitt",
  quota: "Quote (Summe über Durchschnittsbestand)",
  ratio: "Anteil (Zähler über Nenner)",
  mean_rate: "durchschnittliche Rate",
  last: "letzter Monatswert",
  change_of_sum: "Veränderung der Summe gegenüber dem Vorjahr",
  change_of_mean: "Veränderung des Durchschnitts gegenüber dem Vorjahr",
};

export const COMPARATOR = { at_least: "mindestens", at_most: "höchstens" };

export const PLAN_BASIS = {
  agreed_plan: "Soll: vereinbarter Monatsplan",
  prior_year_profile: "Soll: Verlauf des Vorjahres",
  linear: "Soll: gleichmäßig über das Jahr",
};

export const BUDGET_LINE = {
  "ausbildung-qualifizierung": "Ausbildungs- und Qualifizierungsbudget",
  arbeitsmarkt: "Arbeitsmarktbudget",
  eingliederung: "Eingliederungsleistungen",
  verwaltung: "Verwaltungskosten",
};

export const EVENT = {
  MonthlyFigureReported: "Monatswert gemeldet", MonthlyFigureCorrected: "Monatswert korrigiert",
  TargetSet: "Ziel gesetzt", TargetAmended: "Zielwert geändert", TargetWithdrawn: "Ziel zurückgezogen",
  TargetPlanSet: "Monatsplan vereinbart",
  AgreementClosed: "Zielvereinbarung abgeschlossen", BudgetAllocated: "Haushalt zugewiesen",
  BudgetDeviationRecorded: "Haushaltsabweichung", AgreementConcluded: "Zielvereinbarung geschlossen",
};

export const FIELD = {
  target_value: "Zielwert", actual: "Ist", months_reported: "Monate gemeldet",
  expected_to_date: "Soll bis dato", forecast: "Prognose", attainment_pct: "Zielerreichung",
  status: "Status", final: "endgültig", revised_after_close: "nach Abschluss revidiert",
};

/** Rejection codes (docs/contract.md, section 1.7). */
export const REJECTION = {
  not_json: "kein JSON",
  not_utf8: "Text nicht in UTF-8 kodiert",
  too_large: "zu groß",
  invalid_envelope: "Umschlag ungültig",
  unknown_type: "unbekannter Ereignistyp",
  unknown_schema_version: "unbekannte Schemaversion",
  invalid_data: "Daten ungültig",
  negative_value: "negativer Wert",
  numerator_above_denominator: "Zähler größer als Nenner",
  period_out_of_range: "Monat außerhalb des zulässigen Zeitraums",
  period_in_future: "Monat liegt in der Zukunft",
  unknown_jobcenter: "unbekanntes Jobcenter",
  unknown_agreement: "unbekannte Zielvereinbarung",
  unknown_target: "unbekanntes Ziel",
  unknown_budget_line: "unbekannte Haushaltslinie",
  agreement_exists: "Zielvereinbarung gibt es schon",
  target_exists: "Ziel gibt es schon",
  agreement_closed: "Zielvereinbarung abgeschlossen",
  poison: "Verarbeitung wiederholt gescheitert",
  source_not_allowed: "Quelle nicht berechtigt",
  idempotency_conflict: "Nachricht mit gleicher Kennung, anderem Inhalt",
  unknown_framework: "unbekannte Rahmenvereinbarung",
  framework_exists: "Rahmenvereinbarung gibt es schon",
  already_joined: "bereits beigetreten",
  outside_land: "Jobcenter eines anderen Landes",
  join_deadline_passed: "Beitrittsfrist abgelaufen",
  not_a_member: "kein Mitglied",
  not_a_roll_up: "Mitglieder gibt es nur bei Land- und Bundesvereinbarungen",
  key_figure_aggregation: "Kennzahl mit falscher Berechnungsart",
  plan_not_cumulative: "Monatsplan nicht kumulativ",
  number_precision: "Zahl außerhalb der Genauigkeit",
};

/** The API's error codes as a sentence for the people who steer. */
export const ERROR = {
  unauthenticated: "Sie sind nicht angemeldet oder Ihr Zugang ist abgelaufen. Bitte öffnen Sie den Link mit Ihrem Zugangsschlüssel erneut.",
  forbidden: "Ihre Rolle darf diese Ansicht nicht öffnen.",
  not_found: "Nicht gefunden – oder außerhalb Ihres Bereichs.",
  invalid_request: "Die Anfrage ist ungültig.",
  not_ready: "Der Dienst ist noch nicht bereit. Bitte gleich noch einmal versuchen.",
  too_large: "Die Anfrage ist zu groß.",
  network: "Der Server ist nicht erreichbar.",
};

export const ROLE = { reader: "Lesezugriff", auditor: "Prüfung", admin: "Betrieb", source: "Datenquelle" };

export const MONTHS = ["Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez"];
export const MONTH_NAMES = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
  "September", "Oktober", "November", "Dezember"];

export const NONE = "–";

const missing = (value) => value === null || value === undefined || value === "";

/** A slug nobody named: words, capitalised ("grosse-bg" → "Grosse bg"), never the raw code. */
function words(slug) {
  const text = String(slug).replace(/[-_]+/g, " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export const indicatorName = (slug) => INDICATOR[slug] || words(slug);
export const breakdownName = (slug) => BREAKDOWN[slug] || words(slug);
export const aggregationName = (slug) => AGGREGATION[slug] || words(slug);
export const budgetLineName = (slug) => BUDGET_LINE[slug] || words(slug);
export const statusName = (code) => STATUS[code] || words(code);
export const rejectionName = (code) => REJECTION[code] || words(code);
export const eventName = (type) => EVENT[type] || type.replace(/([a-z])([A-Z])/g, "$1 $2");
export const landName = (code) => (code ? LAND[code] || code : "ohne Land");

const NUMBER_FORMATS = new Map();  // one Intl.NumberFormat per number of digits: building one is what costs
function numberFormat(digits) {
  if (!NUMBER_FORMATS.has(digits)) {
    NUMBER_FORMATS.set(digits, new Intl.NumberFormat("de-DE", { maximumFractionDigits: digits }));
  }
  return NUMBER_FORMATS.get(digits);
}
const PERCENT = new Intl.NumberFormat("de-DE", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function num(value, digits = 2) {
  if (missing(value)) return NONE;
  return numberFormat(digits).format(Number(value));
}
export function pct(value) {
  if (missing(value)) return NONE;
  return PERCENT.format(Number(value)) + " %";
}
export function euro(value) { return missing(value) ? NONE : num(value) + " €"; }
export function withUnit(value, unit) {
  if (missing(value)) return NONE;
  if (unit === "percent") return num(value) + " %";
  if (unit === "eur") return euro(value);
  return num(value);
}
/** A moment as "31.12.2024, 14:05:00" (local time). */
const DATE = { day: "2-digit", month: "2-digit", year: "numeric" };
export function when(iso) {
  return iso ? new Date(iso).toLocaleString("de-DE", { ...DATE, hour: "2-digit", minute: "2-digit", second: "2-digit" }) : NONE;
}
/** A date "2024-12-31" as "31.12.2024". */
export function day(iso) { return iso ? new Date(iso + "T00:00:00").toLocaleDateString("de-DE", DATE) : NONE; }
/** A period "2024-07" as "Juli 2024". */
export function monthName(period) {
  if (!period) return NONE;
  const [year, month] = period.split("-");
  return `${MONTH_NAMES[Number(month) - 1]} ${year}`;
}

/** "31.12.2024" → "2024-12-31"; null for anything that is not a real date. */
export function parseGermanDate(text) {
  const match = /^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*$/.exec(text || "");
  if (!match) return null;
  const [d, m, y] = match.slice(1).map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return null;
  return `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

/** An error of the API (or the network) as a German sentence. */
export function errorText(error) {
  if (error && error.code && ERROR[error.code]) return ERROR[error.code];
  if (error && error.status) return `Der Server antwortet mit Status ${error.status}.`;
  return ERROR.network;
}

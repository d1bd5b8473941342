-- Read model "figures": monthly figures as known now, one row per (jobcenter_id, indicator,
-- breakdown, period), written only by the projector runner (projections/figures.py).
-- Invariants:
-- * the row holds the latest recorded publication (highest position), report or correction;
--   revision_count counts every publication of that month; position/recorded_at name the one
--   in force; last_reason is its correction reason (null for a report);
-- * the row set always reflects exactly service.checkpoints('figures'): both change in one
--   transaction;
-- * the definition is the same text as FIGURES_DDL in projections/figures.py, which builds the
--   fresh copies of a rebuild; tests/integration/test_projector.py proves the two identical.
-- A rebuild fills fresh tables in schema views_rebuild, then drops the live table and moves the
-- fresh one into views in one transaction; so zs_app owns this table (to drop it) and may create
-- tables in views_rebuild (and move them out of it: CREATE on views is granted in 0001).
CREATE TABLE IF NOT EXISTS views.figures (
    jobcenter_id   text        NOT NULL,
    indicator      text        NOT NULL,
    breakdown      text        NOT NULL,
    period         text        NOT NULL,
    value          numeric     NOT NULL,
    numerator      numeric,
    denominator    numeric,
    status         text        NOT NULL,
    revision_count integer     NOT NULL,
    position       bigint      NOT NULL,
    recorded_at    timestamptz NOT NULL,
    last_reason    text,
    PRIMARY KEY (jobcenter_id, indicator, breakdown, period)
);

CREATE INDEX IF NOT EXISTS figures_jobcenter_indicator_period_idx
    ON views.figures (jobcenter_id, indicator, period);

ALTER TABLE views.figures OWNER TO zs_app;

CREATE SCHEMA IF NOT EXISTS views_rebuild;
GRANT USAGE, CREATE ON SCHEMA views_rebuild TO zs_app;

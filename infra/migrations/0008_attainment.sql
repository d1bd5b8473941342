-- Read model "attainment" (projections/attainment_view.py): the result of every active target
-- of every agreement, one history row per change of a result (with the event that caused it),
-- and the agreement -> (jobcenter, year) map that tells which agreements a figure touches.
-- Invariants:
-- * rows equal projections.attainment.attainment() over the log up to
--   service.checkpoints('attainment'); both change in one transaction;
-- * the definitions are the same text as ATTAINMENT_DDL in projections/attainment_view.py,
--   which builds the fresh copies of a rebuild; a test proves the two identical;
-- * zs_app owns the tables, so a rebuild can drop and replace them.
CREATE TABLE IF NOT EXISTS views.agreement_years (
        agreement_id text    PRIMARY KEY,
        jobcenter_id text    NOT NULL,
        year         integer NOT NULL
    );

CREATE INDEX IF NOT EXISTS agreement_years_jobcenter_idx ON views.agreement_years (jobcenter_id, year);

CREATE TABLE IF NOT EXISTS views.attainment (
        agreement_id        text    NOT NULL,
        target_id           text    NOT NULL,
        ordinal             integer NOT NULL,
        jobcenter_id        text    NOT NULL,
        year                integer NOT NULL,
        indicator           text    NOT NULL,
        breakdown           text    NOT NULL,
        comparator          text    NOT NULL,
        unit                text    NOT NULL,
        aggregation         text    NOT NULL,
        label               text,
        budget_line         text,
        agreed_value        numeric NOT NULL,
        target_value        numeric NOT NULL,
        actual              numeric,
        months_reported     integer NOT NULL,
        expected_to_date    numeric,
        forecast            numeric,
        attainment_pct      numeric,
        status              text    NOT NULL,
        final               boolean NOT NULL,
        revised_after_close boolean NOT NULL,
        position            bigint  NOT NULL,
        PRIMARY KEY (agreement_id, target_id)
    );

CREATE INDEX IF NOT EXISTS attainment_year_idx ON views.attainment (year, indicator, status);

CREATE TABLE IF NOT EXISTS views.attainment_history (
        agreement_id text        NOT NULL,
        target_id    text        NOT NULL,
        position     bigint      NOT NULL,
        event_id     uuid        NOT NULL,
        event_type   text        NOT NULL,
        recorded_at  timestamptz NOT NULL,
        old          jsonb,
        new          jsonb,
        PRIMARY KEY (agreement_id, target_id, position)
    );

ALTER TABLE views.agreement_years OWNER TO zs_app;
ALTER TABLE views.attainment OWNER TO zs_app;
ALTER TABLE views.attainment_history OWNER TO zs_app;

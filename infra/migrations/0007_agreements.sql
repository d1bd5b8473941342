-- Read model "agreements": jobcenters and their target agreements as known now, written only by
-- the projector runner (projections/agreements.py).
-- Invariants:
-- * one row per jobcenter, agreement, target, goal and budget line (keyed by their ids) and one
--   per dialogue held (keyed by its event's position); position names the event that last
--   changed the row;
-- * targets.value_in_force is the latest recorded TargetAmended value, else agreed_value (never
--   scaled by budget); amendments lists them all ({value, effective_from, reason, position});
-- * budget_lines.current = allocated + the sum of deviations ({period, amount_eur, reason,
--   position});
-- * the row sets always reflect exactly service.checkpoints('agreements'): both change in one
--   transaction;
-- * the definitions are the same text as AGREEMENTS_DDL in projections/agreements.py, which
--   builds the fresh copies of a rebuild; tests/integration/test_agreements_projection.py
--   proves the two identical.
-- zs_app owns these tables so that a rebuild may drop them and move fresh ones in (see 0006).
CREATE TABLE IF NOT EXISTS views.jobcenters (
    jobcenter_id text   NOT NULL PRIMARY KEY,
    name         text   NOT NULL,
    land         text   NOT NULL,
    kind         text   NOT NULL,
    position     bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS views.agreements (
    agreement_id text    NOT NULL PRIMARY KEY,
    jobcenter_id text    NOT NULL,
    year         integer NOT NULL,
    parties      jsonb   NOT NULL,
    signed_on    date,
    title        text,
    status       text    NOT NULL,
    closed_on    date,
    position     bigint  NOT NULL
);

CREATE INDEX IF NOT EXISTS agreements_year_jobcenter_idx ON views.agreements (year, jobcenter_id);

CREATE TABLE IF NOT EXISTS views.targets (
    agreement_id   text    NOT NULL,
    target_id      text    NOT NULL,
    indicator      text    NOT NULL,
    breakdown      text    NOT NULL,
    comparator     text    NOT NULL,
    unit           text    NOT NULL,
    aggregation    text    NOT NULL,
    budget_line    text,
    label          text,
    agreed_value   numeric NOT NULL,
    value_in_force numeric NOT NULL,
    amendments     jsonb   NOT NULL,
    withdrawn      boolean NOT NULL,
    position       bigint  NOT NULL,
    PRIMARY KEY (agreement_id, target_id)
);

CREATE TABLE IF NOT EXISTS views.goals (
    agreement_id  text   NOT NULL,
    goal_id       text   NOT NULL,
    section       text   NOT NULL,
    text          text   NOT NULL,
    state_support jsonb  NOT NULL,
    position      bigint NOT NULL,
    PRIMARY KEY (agreement_id, goal_id)
);

CREATE TABLE IF NOT EXISTS views.budget_lines (
    agreement_id text    NOT NULL,
    budget_line  text    NOT NULL,
    allocated    numeric NOT NULL,
    measures     jsonb   NOT NULL,
    deviations   jsonb   NOT NULL,
    current      numeric NOT NULL,
    position     bigint  NOT NULL,
    PRIMARY KEY (agreement_id, budget_line)
);

CREATE TABLE IF NOT EXISTS views.dialogs (
    agreement_id text   NOT NULL,
    held_on      date   NOT NULL,
    summary      text   NOT NULL,
    position     bigint NOT NULL,
    PRIMARY KEY (agreement_id, position)
);

ALTER TABLE views.jobcenters OWNER TO zs_app;
ALTER TABLE views.agreements OWNER TO zs_app;
ALTER TABLE views.targets OWNER TO zs_app;
ALTER TABLE views.goals OWNER TO zs_app;
ALTER TABLE views.budget_lines OWNER TO zs_app;
ALTER TABLE views.dialogs OWNER TO zs_app;

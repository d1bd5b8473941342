-- The event log. Invariants kept here:
-- * positions are global, gapless and start at 1 (assigned by the appender under a lock);
-- * (stream_id, stream_version) is unique: optimistic concurrency per stream;
-- * (source, message_id) is unique: an upstream message is recorded at most once;
-- * hash = sha256(prev_hash || canonical bytes of the event): a tamper-evident chain;
-- * append-only: UPDATE, DELETE and TRUNCATE are refused by a trigger for every role, and
--   the services' role holds only SELECT and INSERT.
CREATE TABLE IF NOT EXISTS store.events (
    position       bigint      PRIMARY KEY CHECK (position > 0),
    event_id       uuid        NOT NULL UNIQUE,
    stream_id      text        NOT NULL,
    stream_version integer     NOT NULL CHECK (stream_version > 0),
    type           text        NOT NULL,
    schema_version integer     NOT NULL CHECK (schema_version > 0),
    source         text        NOT NULL,
    message_id     text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    correlation_id text,
    data           jsonb       NOT NULL,
    prev_hash      char(64)    NOT NULL,
    hash           char(64)    NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_idempotency_key UNIQUE (source, message_id)
);

CREATE INDEX IF NOT EXISTS events_recorded_at_idx ON store.events (recorded_at);

CREATE OR REPLACE FUNCTION store.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'store.events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON store.events
    FOR EACH STATEMENT EXECUTE FUNCTION store.refuse_change();

REVOKE ALL ON store.events FROM PUBLIC;
GRANT SELECT, INSERT ON store.events TO zs_app;

-- Who wrote each event, and through which channel: `principal` (the authenticated sender: a
-- token's subject, or the broker user a source channel belongs to) and `channel` (`http`,
-- `zs.ingest.<source>`, `zs.ingest`), both inside the hashed bytes (events/chain.py).
-- Invariants:
-- * events recorded before this migration keep both columns NULL and their hash (the canonical
--   bytes name the two fields only when an event has them), so the chain still verifies;
-- * every event appended from now on carries both: a CHECK constraint added NOT VALID holds
--   for every new row and leaves the old rows alone;
-- * store.append_events takes two more arrays (principals, channels) and inserts them; their
--   canonical bytes come in frames_c from the appender as before, so the hashing here is
--   unchanged. The old signature is dropped after its EXECUTE grants are copied to the new one
--   (whichever roles earlier migrations granted it to keep it).
ALTER TABLE store.events ADD COLUMN IF NOT EXISTS principal text;
ALTER TABLE store.events ADD COLUMN IF NOT EXISTS channel text;
ALTER TABLE store.events ADD CONSTRAINT events_principal_channel_given
    CHECK (principal IS NOT NULL AND channel IS NOT NULL) NOT VALID;

CREATE OR REPLACE FUNCTION store.append_events(
    event_ids uuid[], stream_ids text[], types text[], schema_versions integer[],
    sources text[], message_ids text[], occurred_ats timestamptz[], correlation_ids text[],
    data_jsons text[], frames_a text[], frames_b text[], frames_c text[],
    expected_streams text[], expected_versions integer[], principals text[], channels text[]
) RETURNS TABLE (event_id uuid, "position" bigint, stream_version integer, duplicate boolean)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
-- The plans do not depend on the batch (index probes per key and per stream, sorts of the
-- batch): planned once per session rather than at every call.
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    head_position bigint;
    head_hash text;
    head_recorded timestamptz;
    recorded timestamptz;
    recorded_text text;
    last_position bigint;
    stale record;
    positions bigint[];
    versions integer[];
    prev bytea;
    prev_hashes text[];
    hashes text[];
    recorded_event_ids uuid[];
    recorded_positions bigint[];
    recorded_versions integer[];
BEGIN
    PERFORM pg_advisory_xact_lock(1515405648);  -- 0x5A534150 "ZSAP", events/store.py
    -- A statement of its own after the lock: its snapshot includes the previous holder's commit.
    SELECT e.position, e.hash, e.recorded_at INTO head_position, head_hash, head_recorded
    FROM store.events AS e ORDER BY e.position DESC LIMIT 1;
    head_position := coalesce(head_position, 0);
    head_hash := coalesce(head_hash, repeat('0', 64));
    recorded := greatest(clock_timestamp(), head_recorded);
    recorded_text := to_char(recorded AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00';

    IF cardinality(expected_streams) > 0 THEN
        -- A named stream is checked unless the batch has events of it and every one of them
        -- is a recorded repeat (a retry).
        SELECT x.stream_id, x.expected, v.version AS actual INTO stale
        FROM unnest(expected_streams, expected_versions) WITH ORDINALITY
            AS x(stream_id, expected, ord)
        CROSS JOIN LATERAL (
            SELECT coalesce(max(e.stream_version), 0) AS version FROM store.events AS e
            WHERE e.stream_id = x.stream_id
        ) AS v
        LEFT JOIN (SELECT DISTINCT s.stream_id FROM unnest(stream_ids) AS s(stream_id)) AS named
            ON named.stream_id = x.stream_id
        LEFT JOIN (
            SELECT DISTINCT b.stream_id
            FROM unnest(stream_ids, sources, message_ids) AS b(stream_id, source, message_id)
            WHERE NOT EXISTS (
                SELECT FROM store.events AS r
                WHERE r.source = b.source AND r.message_id = b.message_id LIMIT 1)
        ) AS fresh ON fresh.stream_id = x.stream_id
        WHERE v.version <> x.expected
          AND (named.stream_id IS NULL OR fresh.stream_id IS NOT NULL)
        ORDER BY x.ord LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'stream % is at version %, the append expected %',
                stale.stream_id, stale.actual, stale.expected
                USING ERRCODE = 'ZS409', DETAIL = json_build_object(
                    'stream_id', stale.stream_id, 'expected', stale.expected,
                    'actual', stale.actual);
        END IF;
    END IF;

    -- The plan, on narrow rows in batch order: which events repeat a recorded one (the caller
    -- sends each (source, message_id) once), and the numbers of the others.
    WITH keyed AS (
        SELECT b.ord, b.stream_id, r.event_id AS r_event_id, r.position AS r_position,
               r.stream_version AS r_version
        FROM unnest(stream_ids, sources, message_ids) WITH ORDINALITY
            AS b(stream_id, source, message_id, ord)
        LEFT JOIN LATERAL (  -- LIMIT 1 keeps this one index probe per event, never a scan
            SELECT e.event_id, e.position, e.stream_version FROM store.events AS e
            WHERE e.source = b.source AND e.message_id = b.message_id LIMIT 1
        ) AS r ON true
    ),
    heads AS MATERIALIZED (  -- one probe per stream, not per event
        SELECT s.stream_id, v.version
        FROM (SELECT u.stream_id FROM unnest(stream_ids) AS u(stream_id) GROUP BY 1) AS s
        CROSS JOIN LATERAL (
            SELECT coalesce(max(e.stream_version), 0) AS version FROM store.events AS e
            WHERE e.stream_id = s.stream_id
        ) AS v
    ),
    numbered AS (
        SELECT k.*,
               CASE WHEN k.r_position IS NULL THEN head_position
                   + count(*) FILTER (WHERE k.r_position IS NULL) OVER (ORDER BY k.ord)
               END AS position,
               CASE WHEN k.r_position IS NULL THEN (h.version
                   + count(*) FILTER (WHERE k.r_position IS NULL)
                       OVER (PARTITION BY k.stream_id COLLATE "C" ORDER BY k.ord))::integer
               END AS stream_version
        FROM keyed AS k JOIN heads AS h USING (stream_id)
    )
    SELECT array_agg(n.position ORDER BY n.ord), array_agg(n.stream_version ORDER BY n.ord),
           array_agg(n.r_event_id ORDER BY n.ord), array_agg(n.r_position ORDER BY n.ord),
           array_agg(n.r_version ORDER BY n.ord)
    INTO positions, versions, recorded_event_ids, recorded_positions, recorded_versions
    FROM numbered AS n;

    -- The hash chain, in batch order from the head: only here is the whole text known.
    prev := decode(head_hash, 'hex');
    last_position := head_position;
    FOR i IN 1 .. cardinality(positions) LOOP
        CONTINUE WHEN positions[i] IS NULL;
        prev_hashes[i] := encode(prev, 'hex');
        prev := sha256(prev || convert_to('[' || positions[i] || frames_a[i] || versions[i]
            || frames_b[i] || recorded_text || frames_c[i] || data_jsons[i] || ']', 'UTF8'));
        hashes[i] := encode(prev, 'hex');
        last_position := positions[i];
    END LOOP;

    RETURN QUERY
    WITH inserted AS (
        INSERT INTO store.events (
            position, event_id, stream_id, stream_version, type, schema_version, source,
            message_id, occurred_at, recorded_at, correlation_id, principal, channel, data,
            prev_hash, hash)
        SELECT b.position, b.event_id, b.stream_id, b.stream_version, b.type, b.schema_version,
               b.source, b.message_id, b.occurred_at, recorded, b.correlation_id, b.principal,
               b.channel, b.data::jsonb, b.prev_hash, b.hash
        FROM unnest(positions, event_ids, stream_ids, versions, types, schema_versions, sources,
                    message_ids, occurred_ats, correlation_ids, principals, channels, data_jsons,
                    prev_hashes, hashes)
            AS b(position, event_id, stream_id, stream_version, type, schema_version, source,
                 message_id, occurred_at, correlation_id, principal, channel, data, prev_hash,
                 hash)
        WHERE b.position IS NOT NULL
    )  -- runs to completion whether or not read; the answer comes from the plan
    SELECT coalesce(o.recorded_event_id, o.event_id), coalesce(o.recorded_position, o.position),
           coalesce(o.recorded_version, o.stream_version), o.recorded_position IS NOT NULL
    FROM unnest(event_ids, positions, versions, recorded_event_ids, recorded_positions,
                recorded_versions)
        AS o(event_id, position, stream_version, recorded_event_id, recorded_position,
             recorded_version);

    IF last_position > head_position THEN
        PERFORM pg_notify('zs_events', last_position::text);
    END IF;
END
$$;


DO $$
DECLARE
    old_function CONSTANT regprocedure := 'store.append_events(uuid[], text[], text[], integer[],
        text[], text[], timestamptz[], text[], text[], text[], text[], text[], text[],
        integer[])'::regprocedure;
    grantee text;
BEGIN
    FOR grantee IN
        SELECT DISTINCT quote_ident(r.rolname)
        FROM pg_proc AS p CROSS JOIN LATERAL aclexplode(p.proacl) AS a
        JOIN pg_roles AS r ON r.oid = a.grantee
        WHERE p.oid = old_function AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION store.append_events(uuid[], text[], text[], '
            'integer[], text[], text[], timestamptz[], text[], text[], text[], text[], text[], '
            'text[], integer[], text[], text[]) TO %s', grantee);
    END LOOP;
    EXECUTE format('DROP FUNCTION %s', old_function);
END
$$;

REVOKE ALL ON FUNCTION store.append_events FROM PUBLIC;
GRANT EXECUTE ON FUNCTION store.append_events TO zs_app;

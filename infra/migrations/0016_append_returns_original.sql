-- A repeat is judged by the append itself: for an event whose (source, message_id) is recorded
-- already, store.append_events also returns the recorded event's payload (type, schema version,
-- occurred_at, data), read in the same statement and under the append lock that decided which
-- of several concurrent appends of one key records it. The ingest compares it with the repeat's
-- own payload (duplicate or idempotency_conflict) without a read of its own after the write.
-- Invariants:
-- * the arguments, the numbering, the hash chain and the first four columns of the answer are
--   0012's; only the four `original_*` columns are new (NULL for an event recorded now);
-- * the return type changes, so the function is dropped and created again, and given back what
--   0013 gave it: owned by zs_appender, SECURITY DEFINER with a fixed search_path, executable by
--   zs_ingest alone.
DROP FUNCTION store.append_events(
    uuid[], text[], text[], integer[], text[], text[], timestamptz[], text[], text[], text[],
    text[], text[], text[], integer[], text[], text[]);

CREATE FUNCTION store.append_events(
    event_ids uuid[], stream_ids text[], types text[], schema_versions integer[],
    sources text[], message_ids text[], occurred_ats timestamptz[], correlation_ids text[],
    data_jsons text[], frames_a text[], frames_b text[], frames_c text[],
    expected_streams text[], expected_versions integer[], principals text[], channels text[]
) RETURNS TABLE (event_id uuid, "position" bigint, stream_version integer, duplicate boolean,
                original_type text, original_schema_version integer,
                original_occurred_at timestamptz, original_data jsonb)
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
           coalesce(o.recorded_version, o.stream_version), o.recorded_position IS NOT NULL,
           r.type, r.schema_version, r.occurred_at, r.data
    FROM unnest(event_ids, positions, versions, recorded_event_ids, recorded_positions,
                recorded_versions) WITH ORDINALITY
        AS o(event_id, position, stream_version, recorded_event_id, recorded_position,
             recorded_version, ord)
    LEFT JOIN LATERAL (  -- the payload a repeat must match: one probe per repeat, under the lock
        SELECT e.type, e.schema_version, e.occurred_at, e.data FROM store.events AS e
        WHERE e.position = o.recorded_position
    ) AS r ON true
    ORDER BY o.ord;  -- the answer in batch order, as the caller pairs them

    IF last_position > head_position THEN
        PERFORM pg_notify('zs_events', last_position::text);
    END IF;
END
$$;

GRANT CREATE ON SCHEMA store TO zs_appender;  -- a new owner of a function needs it, briefly
ALTER FUNCTION store.append_events(
    uuid[], text[], text[], integer[], text[], text[], timestamptz[], text[], text[], text[],
    text[], text[], text[], integer[], text[], text[]
) OWNER TO zs_appender;
REVOKE CREATE ON SCHEMA store FROM zs_appender;
ALTER FUNCTION store.append_events(
    uuid[], text[], text[], integer[], text[], text[], timestamptz[], text[], text[], text[],
    text[], text[], text[], integer[], text[], text[]
) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION store.append_events FROM PUBLIC;
GRANT EXECUTE ON FUNCTION store.append_events TO zs_ingest;

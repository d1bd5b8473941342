-- One group role per service instead of the shared `zs_app`. Each service logs in with a login
-- role that is a member of exactly one of these groups (see docs/operations.md) and switches to
-- it; the groups hold only what their service does:
-- * zs_ingest:    reads the log; appends only through store.append_events; adds rejections;
-- * zs_relay:     reads the log; keeps service.relay_checkpoint;
-- * zs_projector: reads the log; owns the read models (views, views_rebuild) and keeps
--                 service.checkpoints;
-- * zs_api:       reads the log, the read models, the checkpoints and the rejections;
-- * zs_appender:  no login, no service a member: owns store.append_events, which runs with its rights
--                 (SECURITY DEFINER), so no service holds INSERT on store.events and every
--                 event goes through the function that numbers, times and chains it.
-- The migration owner (the login of ZS_DATABASE_URL) keeps owning the schemas, the log and the
-- service tables. It becomes a member of zs_projector (so later migrations may alter or drop
-- read models) and of zs_appender (so it can hand the function over).
-- zs_app (0001) keeps existing, roles being per server, but loses every privilege here.

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['zs_ingest', 'zs_relay', 'zs_projector', 'zs_api', 'zs_appender']
    LOOP
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', name);
        EXCEPTION
            -- roles are per server: another database of it may have created them already
            WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END LOOP;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT zs_projector, zs_appender TO %I', current_user);
EXCEPTION
    WHEN duplicate_object OR invalid_grant_operation THEN NULL;
END
$$;

-- The log: read by every service, written only through the append function.
GRANT USAGE ON SCHEMA store TO zs_ingest, zs_relay, zs_projector, zs_api, zs_appender;
GRANT SELECT ON store.events TO zs_ingest, zs_relay, zs_projector, zs_api;
GRANT SELECT, INSERT ON store.events TO zs_appender;

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

-- The services' tables.
GRANT USAGE ON SCHEMA service TO zs_ingest, zs_relay, zs_projector, zs_api;
GRANT INSERT ON service.rejections TO zs_ingest;
GRANT SELECT (delivery_id, body_sha256) ON service.rejections TO zs_ingest;  -- ON CONFLICT's key
GRANT USAGE ON SEQUENCE service.rejections_id_seq TO zs_ingest;
GRANT SELECT ON service.rejections TO zs_api;
GRANT SELECT, INSERT, UPDATE ON service.checkpoints TO zs_projector;
GRANT SELECT ON service.checkpoints TO zs_api;
GRANT SELECT, INSERT, UPDATE ON service.relay_checkpoint TO zs_relay;
GRANT SELECT ON service.relay_checkpoint TO zs_api;
GRANT SELECT ON service.schema_migrations TO zs_ingest, zs_relay, zs_projector, zs_api;

-- The read models: the projector creates, replaces and owns them; the API reads them, also the
-- ones a rebuild creates later (default privileges apply to every table zs_projector creates).
GRANT USAGE, CREATE ON SCHEMA views, views_rebuild TO zs_projector;
GRANT USAGE ON SCHEMA views TO zs_api;
DO $$
DECLARE
    found record;
BEGIN
    FOR found IN
        SELECT c.oid::regclass AS name FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('views', 'views_rebuild') AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO zs_projector', found.name);
    END LOOP;
END
$$;
GRANT SELECT ON ALL TABLES IN SCHEMA views TO zs_api;
ALTER DEFAULT PRIVILEGES FOR ROLE zs_projector GRANT SELECT ON TABLES TO zs_api;

-- zs_app: nothing left.
REVOKE ALL ON ALL TABLES IN SCHEMA store, service, views, views_rebuild FROM zs_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA service FROM zs_app;
REVOKE ALL ON FUNCTION store.append_events FROM zs_app;
REVOKE ALL ON SCHEMA store, service, views, views_rebuild FROM zs_app;

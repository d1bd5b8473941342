-- Schemas and the services' role.
-- store:   the event log, the single source of truth (append-only).
-- views:   read models; derivable from the log, rebuildable at any time.
-- service: the services' own state (checkpoints, rejections, migration records).
-- zs_app:  the role every service switches to after connecting. It may read and append the
--          event log but never change or remove a recorded event.
CREATE SCHEMA IF NOT EXISTS store;
CREATE SCHEMA IF NOT EXISTS views;
CREATE SCHEMA IF NOT EXISTS service;

DO $$
BEGIN
    CREATE ROLE zs_app NOLOGIN;
EXCEPTION
    -- roles are per cluster: another database of the same server may have created it already
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT zs_app TO %I', current_user);
EXCEPTION
    WHEN duplicate_object OR invalid_grant_operation THEN NULL;
END
$$;

GRANT USAGE ON SCHEMA store, views, service TO zs_app;
GRANT CREATE ON SCHEMA views TO zs_app;

-- Read models are created by the projector runner from each projection's own DDL (one
-- definition, in projections/), as the services' role, which therefore owns them and can
-- replace them. A rebuild fills fresh tables in schema views_rebuild, then drops the live tables
-- and moves the fresh ones into views in one transaction (CREATE on views is granted in 0001).
CREATE SCHEMA IF NOT EXISTS views_rebuild;
GRANT USAGE, CREATE ON SCHEMA views_rebuild TO zs_app;

-- Each projection declares the version of its tables and its fold (`version` in
-- projections/<name>/projection.py). The version its live tables were built by is recorded here,
-- changed only in the transaction that creates them or swaps rebuilt ones in. When the code's
-- version differs, the projector rebuilds the projection into fresh tables and swaps them in
-- while the old ones serve, so a change of a read model needs no migration that drops its tables
-- and resets its checkpoint (as 0010, 0011 and 0014 did). A projection without a row here has
-- tables of version 1, the first one declared.
CREATE TABLE IF NOT EXISTS service.projection_versions (
    projection text        PRIMARY KEY,
    version    integer     NOT NULL CHECK (version > 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE ON service.projection_versions TO zs_projector;
GRANT SELECT ON service.projection_versions TO zs_api;

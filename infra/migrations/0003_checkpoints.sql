-- Projection checkpoints: the last event position each projection has applied.
-- A projection advances its row in the same transaction as its read-model changes, so the
-- checkpoint and the view never disagree (exactly-once effect).
CREATE TABLE IF NOT EXISTS service.checkpoints (
    projection text        PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE ON service.checkpoints TO zs_app;

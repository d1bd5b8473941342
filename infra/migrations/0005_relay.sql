-- The relay's checkpoint: the last event position it has published to `zs.events`.
-- Invariants:
-- * one row at most (id is always true); no row means nothing has been published yet;
-- * the relay publishes first and advances the row after, so every event at or below the
--   position has been published at least once (a crash in between publishes some again);
-- * the position only ever names a recorded event (the relay publishes what it read).
CREATE TABLE IF NOT EXISTS service.relay_checkpoint (
    id         boolean     PRIMARY KEY DEFAULT true CHECK (id),
    position   bigint      NOT NULL CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE ON service.relay_checkpoint TO zs_app;

-- Rejected messages: whatever reached the ingest and was not recorded, with its raw body, a
-- machine-readable code and a human reason. One row per delivered message: delivery_id is the
-- broker's id of the message (the same on every redelivery), so a retried rejection is stored
-- once. Nothing here is ever updated.
CREATE TABLE IF NOT EXISTS service.rejections (
    id          bigserial   PRIMARY KEY,
    delivery_id text        NOT NULL UNIQUE,
    source      text,
    message_id  text,
    code        text        NOT NULL,
    reason      text        NOT NULL,
    body        bytea       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS rejections_source_received_idx
    ON service.rejections (source, received_at);
CREATE INDEX IF NOT EXISTS rejections_received_idx ON service.rejections (received_at);

GRANT SELECT, INSERT ON service.rejections TO zs_app;
GRANT USAGE ON SEQUENCE service.rejections_id_seq TO zs_app;

-- The ingest rebuilds its view of jobcenters and agreements from these event types only.
CREATE INDEX IF NOT EXISTS events_type_position_idx ON store.events (type, position);

-- A rejection is one delivered message: the broker's delivery id together with the body's
-- digest. A redelivery (same id, same bytes) is stored once; a distinct message that happens to
-- get an id seen before (a broker restarted empty starts its numbering again) is stored too,
-- never silently dropped.
ALTER TABLE service.rejections
    ADD COLUMN IF NOT EXISTS body_sha256 bytea GENERATED ALWAYS AS (sha256(body)) STORED;
ALTER TABLE service.rejections DROP CONSTRAINT IF EXISTS rejections_delivery_id_key;
CREATE UNIQUE INDEX IF NOT EXISTS rejections_delivery_body_idx
    ON service.rejections (delivery_id, body_sha256);

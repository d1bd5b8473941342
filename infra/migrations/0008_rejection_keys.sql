-- A rejection keeps at most the first 64 KiB of the raw body, with the whole body's size and
-- sha256, so a hostile sender cannot fill the database through the rejection path.
-- A rejection is one delivered message: the broker's delivery id together with the body's
-- digest. A redelivery (same id, same bytes) is stored once; a distinct message that happens to
-- get an id seen before (a broker restarted empty starts its numbering again) is stored too,
-- never silently dropped.
ALTER TABLE service.rejections ADD COLUMN IF NOT EXISTS body_size bigint;
ALTER TABLE service.rejections ADD COLUMN IF NOT EXISTS body_sha256 bytea;
UPDATE service.rejections
SET body_size = length(body), body_sha256 = sha256(body)
WHERE body_sha256 IS NULL;
ALTER TABLE service.rejections ALTER COLUMN body_size SET NOT NULL;
ALTER TABLE service.rejections ALTER COLUMN body_sha256 SET NOT NULL;
ALTER TABLE service.rejections DROP CONSTRAINT IF EXISTS rejections_delivery_id_key;
CREATE UNIQUE INDEX IF NOT EXISTS rejections_delivery_body_idx
    ON service.rejections (delivery_id, body_sha256);

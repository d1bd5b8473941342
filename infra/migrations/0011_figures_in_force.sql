-- The figures view now keeps the publication the source published last (envelope occurred_at,
-- then position) rather than the one recorded last, and stores its occurred_at: drop the view
-- and reset its checkpoint, so the services recreate it from its current DDL and fill it from
-- position 1.
DROP TABLE IF EXISTS views.figures;
UPDATE service.checkpoints SET position = 0, updated_at = now() WHERE projection = 'figures';

-- The figures view's revision_count now counts the publications after the first (it counted
-- the first as well) and its rows carry consistency flags: drop the view and reset its
-- checkpoint, so the services recreate it from its current DDL and fill it from position 1.
DROP TABLE IF EXISTS views.figures;
UPDATE service.checkpoints SET position = 0, updated_at = now() WHERE projection = 'figures';

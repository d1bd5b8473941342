-- The key figures' copy of the base series now keeps the vintage in force by publication time
-- (envelope occurred_at, then position) and stores occurred_at with it; the key figures gain
-- K1E2 and an index for the aggregates per Land and for Germany: drop both tables and reset the
-- checkpoint, so the services recreate them from the current DDL and fill them from position 1.
DROP TABLE IF EXISTS views.key_figure_series;
DROP TABLE IF EXISTS views.key_figures;
UPDATE service.checkpoints SET position = 0, updated_at = now() WHERE projection = 'key_figures';

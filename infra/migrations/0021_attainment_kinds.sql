-- Attainment follows the three kinds of aggregation (accumulating along a plan path, levels,
-- changes judged on levels) and the key figures' own constructions, and its rows gain the plan
-- basis, the plan path and the levels of change targets: drop the attainment tables and reset
-- their checkpoint, so the services recreate them from the current DDL and refill them from
-- position 1 (every result and its history recomputed under the corrected rules).
DROP TABLE IF EXISTS views.attainment_history;
DROP TABLE IF EXISTS views.attainment_state;
DROP TABLE IF EXISTS views.attainment;
DROP TABLE IF EXISTS views.agreement_years;
UPDATE service.checkpoints SET position = 0, updated_at = now() WHERE projection = 'attainment';
-- The figures view's flags gain `waiting_period` (a figure published before the end of the third
-- month after its period): drop it and reset its checkpoint too, so every row is flagged anew.
DROP TABLE IF EXISTS views.figures;
UPDATE service.checkpoints SET position = 0, updated_at = now() WHERE projection = 'figures';

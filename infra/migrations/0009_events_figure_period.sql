-- An agreement's history shows its jobcenter's figures of the agreement's year: the store finds
-- them by stream and the year of their period without reading the jobcenter's other years.
CREATE INDEX IF NOT EXISTS events_stream_period_year_idx
    ON store.events (stream_id, (left(data->>'period', 4)))
    WHERE data ? 'period';

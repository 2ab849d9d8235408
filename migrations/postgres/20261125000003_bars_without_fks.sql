-- bars is the one table that takes bulk loads (1M rows and more). Its two
-- foreign keys cost two thirds of a first load: PostgreSQL queues a check
-- per inserted row (`psql \copy` of 1M bars: 2.6 s without them, 8.5 s with
-- them). Both referenced tables are append-only (stocks are deactivated,
-- never deleted; job_runs rows are never deleted), the writer takes its ids
-- from those tables in the same run, and `tickerd doctor` counts orphans.
ALTER TABLE bars DROP CONSTRAINT IF EXISTS bars_stock_id_fkey;
ALTER TABLE bars DROP CONSTRAINT IF EXISTS bars_run_id_fkey;
COMMENT ON COLUMN bars.stock_id IS 'stocks.id; no foreign key (bulk-load speed): stocks are never deleted, `tickerd doctor` checks';
COMMENT ON COLUMN bars.run_id IS 'Lineage: the run that last wrote the bar (job_runs.id; no foreign key, checked by `tickerd doctor`)';

-- What a run did: 'offload' (rows from ClickHouse appended, the watermark moved), 'compact' (small files of
-- a partition rewritten into fewer, the rows unchanged) or 'repair' (one partition's files replaced by the
-- rows ClickHouse holds for it up to the watermark). Compaction and repair move no watermark, but they
-- commit like an offload — run record and catalog pointer in one transaction — so recovery and history
-- see them the same way. Rows recorded before this column existed were offloads.
ALTER TABLE offload_runs ADD COLUMN IF NOT EXISTS kind TEXT NOT NULL DEFAULT 'offload';

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conrelid = 'offload_runs'::regclass AND conname = 'offload_runs_kind_check'
    ) THEN
        ALTER TABLE offload_runs ADD CONSTRAINT offload_runs_kind_check CHECK (kind IN ('offload', 'compact', 'repair'));
    END IF;
END
$$;

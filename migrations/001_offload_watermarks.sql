-- The watermark table of the seed platform, kept column-for-column compatible so its queries keep
-- working (SELECT last_offload_timestamp, last_offload_max_sequence …; UPDATE … SET status = 'running' …).
-- IF NOT EXISTS: a database that already holds the seed's table is adopted, not recreated.
CREATE TABLE IF NOT EXISTS offload_watermarks (
    table_name                TEXT PRIMARY KEY,
    last_offload_timestamp    TIMESTAMPTZ NOT NULL,
    last_offload_max_sequence BIGINT NOT NULL,
    last_offload_row_count    BIGINT DEFAULT 0,
    status                    TEXT NOT NULL DEFAULT 'initialized',
    last_successful_run       TIMESTAMPTZ,
    last_run_duration_seconds INTEGER,
    failure_count             INTEGER DEFAULT 0,
    last_error_message        TEXT,
    created_at                TIMESTAMPTZ DEFAULT now(),
    updated_at                TIMESTAMPTZ DEFAULT now()
);

-- The seed documents these four states but never enforced them.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conrelid = 'offload_watermarks'::regclass AND conname = 'offload_watermarks_status_check'
    ) THEN
        ALTER TABLE offload_watermarks ADD CONSTRAINT offload_watermarks_status_check
            CHECK (status IN ('initialized', 'running', 'success', 'failed'));
    END IF;
END
$$;

CREATE INDEX IF NOT EXISTS idx_watermarks_status ON offload_watermarks (status);
CREATE INDEX IF NOT EXISTS idx_watermarks_last_run ON offload_watermarks (last_successful_run DESC);

-- Our exact watermark. last_offload_timestamp alone cannot bound a window (rows share timestamps) and
-- last_offload_max_sequence cannot hold a UInt64 tie-breaker, so the pair lives here:
--   watermark_timestamp  the cursor value, microsecond precision (TIMESTAMPTZ keeps µs);
--   watermark_tie_break  the tie-break value among rows sharing that timestamp, any integer width
--                        (NUMERIC: UInt64 exceeds BIGINT); NULL when the table has no tie-break column.
-- NULL watermark_timestamp means "never offloaded by us" (e.g. a row the seed's job created).
ALTER TABLE offload_watermarks ADD COLUMN IF NOT EXISTS watermark_timestamp TIMESTAMPTZ;
ALTER TABLE offload_watermarks ADD COLUMN IF NOT EXISTS watermark_tie_break NUMERIC;
-- The Iceberg table (namespace.table) this source is offloaded into.
ALTER TABLE offload_watermarks ADD COLUMN IF NOT EXISTS iceberg_table TEXT;
-- The offload_runs.run_id whose commit moved the watermark here.
ALTER TABLE offload_watermarks ADD COLUMN IF NOT EXISTS committed_run_id UUID;

-- History of every offload attempt. A run is inserted as 'running' before anything is written and
-- becomes 'committed' in the same transaction that moves the catalog pointer and the watermark;
-- a run found 'running' with no live lock holder is resolved from the catalog (DESIGN.md step 2).
CREATE TABLE offload_runs (
    run_id                   UUID PRIMARY KEY,
    table_name               TEXT NOT NULL,
    iceberg_table            TEXT,
    worker                   TEXT NOT NULL, -- host:pid
    status                   TEXT NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'committed', 'aborted', 'failed', 'up_to_date')),
    -- The window (start, end]: cursor timestamp + tie-break value on each side.
    window_start_timestamp   TIMESTAMPTZ,
    window_start_tie_break   NUMERIC,
    window_end_timestamp     TIMESTAMPTZ,
    window_end_tie_break     NUMERIC,
    rows                     BIGINT NOT NULL DEFAULT 0,
    bytes                    BIGINT NOT NULL DEFAULT 0,
    files                    INTEGER NOT NULL DEFAULT 0,
    -- Iceberg snapshot ids are 63-bit: NUMERIC keeps them exact end to end (never a JS double).
    snapshot_id              NUMERIC(20, 0),
    metadata_location        TEXT,
    error                    TEXT,
    started_at               TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    finished_at              TIMESTAMPTZ,
    duration_ms              BIGINT
);

-- "Latest runs of a table" and "latest runs overall" are the two listings the status screens make.
CREATE INDEX offload_runs_table_started_idx ON offload_runs (table_name, started_at DESC);
CREATE INDEX offload_runs_started_idx ON offload_runs (started_at DESC);
-- Recovery looks for runs left running by a crashed process.
CREATE INDEX offload_runs_running_idx ON offload_runs (table_name) WHERE status = 'running';

-- What each run read of each closed window of a candle (gold) table: its rows and a fingerprint of their
-- values, taken in ClickHouse just before the window's rows were extracted. `offload status` computes the
-- same numbers again for the windows below the watermark and shows the windows whose values changed since
-- (a late trade changing a closed candle). Rows of runs that did not commit are ignored (joined with
-- offload_runs).
CREATE TABLE offload_windows (
    table_name    TEXT NOT NULL,
    -- The window's cursor value (window_start), µs since the epoch.
    window_micros BIGINT NOT NULL,
    run_id        UUID NOT NULL,
    rows          BIGINT NOT NULL,
    -- sum of cityHash64 over the row's values as text, modulo 2^64, as decimal text.
    fingerprint   TEXT NOT NULL,
    PRIMARY KEY (table_name, window_micros, run_id)
);

-- Rows a table's runs hold back: the rows at one cursor value that ClickHouse refuses to read (error 407
-- "Decimal convert overflow" in a candle query's cast, and the like). With the table's `refusedRows: "hold"`
-- (the default) a run records them here and offloads every other row: it leaves this cursor value out of
-- its windows and moves on. Each run reads them again (one query per value) and forgets those ClickHouse
-- reads now: above the watermark the run then takes them, at or below it they show in `offload status` as
-- late rows with the repair of their partition. Until then status and the TUI show them.
CREATE TABLE IF NOT EXISTS offload_held_rows (
    table_name    TEXT NOT NULL,
    -- The cursor value whose rows are held, µs since the epoch.
    cursor_micros BIGINT NOT NULL,
    -- Rows at that value when they were held (ClickHouse counts them; only reading their values fails).
    rows          BIGINT NOT NULL,
    -- ClickHouse's error, e.g. "ClickHouse error 407: Decimal convert overflow".
    error         TEXT NOT NULL,
    -- How a person sees the rows: a query, or the condition to add to the table's query.
    rows_hint     TEXT NOT NULL,
    run_id        UUID NOT NULL,
    held_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, cursor_micros)
);

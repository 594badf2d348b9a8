-- Per source column, the values of a committed run whose bytes were not UTF-8 and were written with each
-- invalid sequence replaced by U+FFFD ({"symbol": 2}); NULL when every string was UTF-8 (README "Strings
-- that are not UTF-8").
ALTER TABLE offload_runs ADD COLUMN replaced_utf8 JSONB;

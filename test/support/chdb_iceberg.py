#!/usr/bin/env python3
"""Runs SQL statements in one session of the current ClickHouse engine (chdb) with its Iceberg writer
enabled: an independent writer of Iceberg tables for the tests, whose ALTER TABLE ... DELETE on an
IcebergS3 table writes merge-on-read position deletes (delete manifests and Parquet delete files).

Reads a JSON array of statements on stdin; prints a JSON array of their TabSeparated results.
The engine writes full s3:// paths into the metadata (write_full_path_in_iceberg_metadata) so that
other readers, ours and pyiceberg, find the files; it runs in UTC.
"""
import json
import os
import sys
import time

os.environ["TZ"] = "UTC"
if hasattr(time, "tzset"):
    time.tzset()

from chdb import session  # noqa: E402  (after TZ)


def main() -> None:
    statements = json.load(sys.stdin)
    s = session.Session()
    try:
        s.query("SET allow_insert_into_iceberg = 1")
        s.query("SET write_full_path_in_iceberg_metadata = 1")
        out = []
        for sql in statements:
            try:
                out.append(s.query(sql, "TSV").bytes().decode())
            except Exception as e:  # one line naming the statement
                sys.stderr.write(f"chdb: {str(e).splitlines()[0] if str(e) else type(e).__name__}\n  in: {sql[:300]}\n")
                sys.exit(1)
        print(json.dumps(out))
    finally:
        s.close()


if __name__ == "__main__":
    main()

"""ClickHouse's own Iceberg writer, through chdb (the current engine in-process): reads the source table from
a ClickHouse server over HTTP as FORMAT Native (url(); remote() fails on 18.16) and INSERTs it into an
IcebergS3 table on the same S3, partitioned by day of the cursor, Parquet zstd (its defaults).
Usage: chdb_writer.py <clickhouse http url, …/?user=…&password=…> <SELECT …> <source structure> <table structure> <partition expr> <s3 table url>
Prints {"ms", "peakRssMb"}; the orchestrator registers the table's newest metadata file in the catalog."""
import os
import sys
import time
from urllib.parse import quote

from common import report

ch_url, select, source_structure, table_structure, partition, location = sys.argv[1:7]
import chdb  # noqa: E402  (its import starts the engine: not part of the measured work)
from chdb import session  # noqa: E402

s = session.Session()
t0 = time.perf_counter()
# Session-wide, before CREATE: the table's first metadata file already carries full s3:// paths then, which
# other readers (pyiceberg, through the catalog) need.
s.query("SET allow_insert_into_iceberg = 1")
s.query("SET write_full_path_in_iceberg_metadata = 1")
key, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
s.query(f"CREATE TABLE t ({table_structure}) ENGINE = IcebergS3('{location}', '{key}', '{secret}') PARTITION BY {partition}")
url = f"{ch_url}&query=" + quote(f"{select} FORMAT Native")
src = source_structure.replace("\\", "\\\\").replace("'", "\\'")
s.query(f"INSERT INTO t SELECT * FROM url('{url}', Native, '{src}')")
report(ms=(time.perf_counter() - t0) * 1000)

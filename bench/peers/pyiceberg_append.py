"""pyiceberg's append, as a person would script it: the source table as CSV over HTTP into a pyarrow table
(typed columns), then `table.append()` into a new day-partitioned table of the same catalog.
Usage: pyiceberg_append.py <clickhouse http url> <SELECT …> <namespace.table> <columns JSON: [[name, arrow type]…]> <cursor>
Prints {"ms", "peakRssMb"}."""
import json
import sys
import time
import urllib.request

from common import catalog, report

ch_url, select, ident, columns_json, cursor = sys.argv[1:6]
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
from pyiceberg.transforms import DayTransform  # noqa: E402

ARROW = {
    "timestamp": pa.timestamp("us", tz="UTC"),
    "int": pa.int32(),
    "long": pa.int64(),
    "string": pa.string(),
}


def arrow_type(t: str):
    if t.startswith("decimal"):
        p, s = t[len("decimal("):-1].split(",")
        return pa.decimal128(int(p), int(s))
    return ARROW[t]


columns = json.loads(columns_json)
# CSV text parses straight into each type except times: ClickHouse prints them without a zone (UTC here).
read_types = {n: (pa.timestamp("ms") if t == "timestamp" else arrow_type(t)) for n, t in columns}
target = pa.schema([(n, arrow_type(t)) for n, t in columns])

t0 = time.perf_counter()
body = urllib.request.urlopen(urllib.request.Request(ch_url, data=f"{select} FORMAT CSV".encode()))
rows = pacsv.read_csv(
    body,
    read_options=pacsv.ReadOptions(column_names=[n for n, _ in columns]),
    convert_options=pacsv.ConvertOptions(column_types=read_types),
)
rows = rows.cast(target)
cat = catalog(io="fsspec")
namespace = ident.rsplit(".", 1)[0]
cat.create_namespace_if_not_exists(namespace)
table = cat.create_table(ident, schema=target)
with table.update_spec() as spec:
    spec.add_field(cursor, DayTransform(), f"{cursor}_day")
table.append(rows)
report(ms=(time.perf_counter() - t0) * 1000)

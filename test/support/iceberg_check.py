"""An independent reader of the tables offload writes: pyiceberg (with pyarrow) loads them through the
same JDBC catalog in PostgreSQL and the same storage, and DuckDB reads the Parquet files pyiceberg plans
from our manifests. Everything is printed as one JSON object in a canonical form the TypeScript tests
compare against what they wrote:

  long/int/decimal → exact decimal text ("42", "1.50000000"); string → itself; double → JSON number;
  float → the JSON number of its float32 value; boolean → JSON boolean; date → "YYYY-MM-DD";
  timestamp(tz) → "YYYY-MM-DDTHH:MM:SS.ffffff" (UTC, always six digits); uuid → lower-case hyphenated;
  binary → hex; list → array; map → object keyed by the canonical key; struct → object; null → null.

Usage: iceberg_check.py read <namespace.table> [--history] [--duckdb] [--snapshot ID ...]
       iceberg_check.py append <namespace.table>      (canonical rows as a JSON array on stdin)

The catalog comes from the environment: CATALOG (name), CATALOG_URI (SQLAlchemy URL; an http(s) URL is
an Iceberg REST catalog, read through pyiceberg's RestCatalog), WAREHOUSE, and for S3: S3_ENDPOINT,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.
"""

import argparse
import json
import os
import sys
import tempfile
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pyarrow.fs

from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    UUIDType,
)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _s3_with_single_put_for_small_objects(**kwargs):
    # moto 5 answers CompleteMultipartUpload with a root element Arrow's S3 client rejects, and Arrow
    # uploads every object in parts unless the open is delayed: then a small object is one PutObject.
    return _ArrowS3FileSystem(allow_delayed_open=True, **kwargs)


_ArrowS3FileSystem = pyarrow.fs.S3FileSystem
pyarrow.fs.S3FileSystem = _s3_with_single_put_for_small_objects


def catalog():
    props = {"uri": os.environ["CATALOG_URI"], "warehouse": os.environ["WAREHOUSE"]}
    if os.environ.get("S3_ENDPOINT"):
        props.update(
            {
                "s3.endpoint": os.environ["S3_ENDPOINT"],
                "s3.access-key-id": os.environ["AWS_ACCESS_KEY_ID"],
                "s3.secret-access-key": os.environ["AWS_SECRET_ACCESS_KEY"],
                "s3.region": os.environ.get("AWS_REGION", "us-east-1"),
                "s3.force-virtual-addressing": "false",
            }
        )
    if props["uri"].startswith(("http://", "https://")):
        # An Iceberg REST catalog: the server keeps the warehouse; pyiceberg reads the same storage.
        from pyiceberg.catalog.rest import RestCatalog

        del props["warehouse"]
        return RestCatalog(os.environ["CATALOG"], **props)
    return SqlCatalog(os.environ["CATALOG"], **props)


# ── canonical values ─────────────────────────────────────────────────────────────────────────


def type_name(t) -> str:
    if isinstance(t, ListType):
        return f"list<{type_name(t.element_type)}>"
    if isinstance(t, MapType):
        return f"map<{type_name(t.key_type)}, {type_name(t.value_type)}>"
    if isinstance(t, StructType):
        return "struct<" + ", ".join(f"{f.name}: {type_name(f.field_type)}" for f in t.fields) + ">"
    return str(t)


def field_json(f) -> dict:
    """A schema field as the Iceberg spec's JSON names it (ids of nested types included)."""
    t = f.field_type
    out = {"id": f.field_id, "name": f.name, "required": f.required, "type": type_json(t)}
    return out


def type_json(t):
    if isinstance(t, ListType):
        return {"type": "list", "element-id": t.element_id, "element": type_json(t.element_type), "element-required": t.element_required}
    if isinstance(t, MapType):
        return {
            "type": "map",
            "key-id": t.key_id,
            "key": type_json(t.key_type),
            "value-id": t.value_id,
            "value": type_json(t.value_type),
            "value-required": t.value_required,
        }
    if isinstance(t, StructType):
        return {"type": "struct", "fields": [field_json(f) for f in t.fields]}
    return str(t)


def timestamp_text(v: datetime) -> str:
    if v.tzinfo is not None:
        v = v.astimezone(timezone.utc).replace(tzinfo=None)
    return v.strftime("%Y-%m-%dT%H:%M:%S.%f")


def canon(t, v):
    if v is None:
        return None
    if isinstance(t, (LongType, IntegerType)):
        return str(v)
    if isinstance(t, DecimalType):
        return format(v, "f")
    if isinstance(t, StringType):
        return v
    if isinstance(t, DoubleType):
        return float(v)
    if isinstance(t, FloatType):
        return float(v)
    if isinstance(t, BooleanType):
        return bool(v)
    if isinstance(t, DateType):
        return v.isoformat() if isinstance(v, date) else str(v)
    if isinstance(t, (TimestampType, TimestamptzType)):
        return timestamp_text(v)
    if isinstance(t, UUIDType):
        if isinstance(v, uuid.UUID):
            return str(v)
        return str(uuid.UUID(v)) if isinstance(v, str) else str(uuid.UUID(bytes=bytes(v)))
    if isinstance(t, (BinaryType, FixedType)):
        return bytes(v).hex()
    if isinstance(t, ListType):
        return [canon(t.element_type, e) for e in v]
    if isinstance(t, MapType):
        pairs = v.items() if isinstance(v, dict) else v
        out = {}
        for k, x in pairs:
            key = canon(t.key_type, k)
            out[key if isinstance(key, str) else json.dumps(key)] = canon(t.value_type, x)
        return out
    if isinstance(t, StructType):
        return {f.name: canon(f.field_type, v.get(f.name)) for f in t.fields}
    raise TypeError(f"no canonical form for {t}")


def canon_rows(schema, arrow_table) -> list:
    rows = arrow_table.to_pylist()
    return [{f.name: canon(f.field_type, r.get(f.name)) for f in schema.fields} for r in rows]


def partition_value(v):
    """Partition values as pyiceberg's manifest reader returns them (transform results: ints for day/month/hour)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, datetime):
        return timestamp_text(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, float):
        return v
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    return str(v)


def partition_json(spec, record) -> dict:
    return {pf.name: partition_value(record[i]) for i, pf in enumerate(spec.fields)}


# ── uncanonical: canonical JSON rows → Arrow (for pyiceberg's own appends) ─────────────────────


def uncanon(t, v):
    if v is None:
        return None
    if isinstance(t, (LongType, IntegerType)):
        return int(v)
    if isinstance(t, DecimalType):
        return Decimal(v)
    if isinstance(t, (StringType, BooleanType, DoubleType, FloatType)):
        return v
    if isinstance(t, DateType):
        return date.fromisoformat(v)
    if isinstance(t, TimestamptzType):
        return datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)
    if isinstance(t, TimestampType):
        return datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(t, UUIDType):
        return uuid.UUID(v).bytes
    if isinstance(t, ListType):
        return [uncanon(t.element_type, e) for e in v]
    if isinstance(t, MapType):
        return [(uncanon(t.key_type, k), uncanon(t.value_type, x)) for k, x in v.items()]
    if isinstance(t, StructType):
        return {f.name: uncanon(f.field_type, v.get(f.name)) for f in t.fields}
    raise TypeError(f"cannot build a value of {t}")


def append(table_name: str) -> dict:
    import pyarrow as pa

    rows = json.load(sys.stdin)
    t = catalog().load_table(table_name)
    schema = t.schema()
    arrow_schema = schema.as_arrow()
    columns = {}
    for f in schema.fields:
        values = [uncanon(f.field_type, r.get(f.name)) for r in rows]
        columns[f.name] = pa.array(values, type=arrow_schema.field(f.name).type)
    t.append(pa.table(columns, schema=arrow_schema))
    return {"metadata_location": t.metadata_location, "snapshot_id": str(t.current_snapshot().snapshot_id), "rows": len(rows)}


# ── reading ──────────────────────────────────────────────────────────────────────────────────


def duckdb_rows(t, schema, tasks) -> list:
    """DuckDB reads the Parquet data files pyiceberg planned from our manifests (copied locally: no httpfs here)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, task in enumerate(tasks):
            local = os.path.join(tmp, f"{i}.parquet")
            with t.io.new_input(task.file.file_path).open() as src, open(local, "wb") as dst:
                dst.write(src.read())
            arrow = con.execute("SELECT * FROM read_parquet(?)", [local]).to_arrow_table()
            present = set(arrow.column_names)
            for r in arrow.to_pylist():
                rows.append({f.name: canon(f.field_type, r.get(f.name)) if f.name in present else None for f in schema.fields})
    return rows


def read(table_name: str, history: bool, with_duckdb: bool, snapshots: list) -> dict:
    t = catalog().load_table(table_name)
    md = t.metadata
    schema = t.schema()
    spec = t.spec()
    out = {
        "metadata_location": t.metadata_location,
        "format_version": md.format_version,
        "location": md.location,
        "schema_id": schema.schema_id,
        "schema": [field_json(f) for f in schema.fields],
        "schemas": [{"schema_id": s.schema_id, "fields": [field_json(f) for f in s.fields]} for s in md.schemas],
        "last_column_id": md.last_column_id,
        "spec": [{"name": f.name, "field_id": f.field_id, "source_id": f.source_id, "transform": str(f.transform)} for f in spec.fields],
        "current_snapshot_id": None if t.current_snapshot() is None else str(t.current_snapshot().snapshot_id),
        "snapshots": [
            {
                "snapshot_id": str(s.snapshot_id),
                "parent_snapshot_id": None if s.parent_snapshot_id is None else str(s.parent_snapshot_id),
                "sequence_number": s.sequence_number,
                "timestamp_ms": s.timestamp_ms,
                "schema_id": s.schema_id,
                "manifest_list": s.manifest_list,
                "operation": None if s.summary is None else s.summary.operation.value,
                "summary": {} if s.summary is None else {k: v for k, v in s.summary.additional_properties.items()},
            }
            for s in md.snapshots
        ],
        "snapshot_log": [{"snapshot_id": str(e.snapshot_id), "timestamp_ms": e.timestamp_ms} for e in md.snapshot_log],
        "metadata_log": [e.metadata_file for e in md.metadata_log],
        "properties": dict(md.properties),
    }
    if t.current_snapshot() is None:
        out.update({"row_count": 0, "rows": [], "files": [], "entries": [], "partitions": []})
        return out

    scan = t.scan()
    tasks = list(scan.plan_files())
    arrow = scan.to_arrow()
    out["row_count"] = arrow.num_rows
    out["rows"] = canon_rows(schema, arrow)
    out["files"] = [
        {
            "path": task.file.file_path,
            "record_count": task.file.record_count,
            "file_size_in_bytes": task.file.file_size_in_bytes,
            "spec_id": task.file.spec_id,
            "partition": partition_json(md.specs()[task.file.spec_id], task.file.partition),
        }
        for task in tasks
    ]
    # Entries and partitions straight from pyiceberg's manifest reader (its inspect tables cannot yet
    # build Arrow columns for uuid bounds).
    entries = []
    partitions = {}
    for manifest in t.current_snapshot().manifests(t.io):
        spec_of_manifest = md.specs()[manifest.partition_spec_id]
        for e in manifest.fetch_manifest_entry(t.io, discard_deleted=False):
            entries.append(
                {
                    "status": int(e.status),
                    "snapshot_id": str(e.snapshot_id),
                    "sequence_number": e.sequence_number,
                    "path": e.data_file.file_path,
                }
            )
            if int(e.status) == 2:
                continue
            part = partition_json(spec_of_manifest, e.data_file.partition)
            key = json.dumps(part, sort_keys=True)
            p = partitions.setdefault(key, {"partition": part, "record_count": 0, "file_count": 0})
            p["record_count"] += e.data_file.record_count
            p["file_count"] += 1
    out["entries"] = entries
    out["partitions"] = list(partitions.values())
    if history:
        # Every kept snapshot must still be readable: its manifest list, manifests and data files exist.
        out["history"] = [
            {"snapshot_id": str(s.snapshot_id), "row_count": t.scan(snapshot_id=s.snapshot_id).to_arrow().num_rows} for s in md.snapshots
        ]
    for sid in snapshots:
        snapshot_schema = t.schemas()[md.snapshot_by_id(int(sid)).schema_id] if md.snapshot_by_id(int(sid)).schema_id is not None else schema
        rows = t.scan(snapshot_id=int(sid)).to_arrow()
        out.setdefault("snapshot_rows", {})[sid] = canon_rows(snapshot_schema, rows)
    if with_duckdb:
        out["duckdb_rows"] = duckdb_rows(t, schema, tasks)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("read")
    r.add_argument("table")
    r.add_argument("--history", action="store_true")
    r.add_argument("--duckdb", action="store_true")
    r.add_argument("--snapshot", action="append", default=[])
    a = sub.add_parser("append")
    a.add_argument("table")
    args = parser.parse_args()
    if args.command == "read":
        result = read(args.table, args.history, args.duckdb, args.snapshot)
    else:
        result = append(args.table)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

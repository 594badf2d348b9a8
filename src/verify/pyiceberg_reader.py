# pyiceberg-loads: an independent reader. Loads tables through the same JDBC catalog (pyiceberg's SqlCatalog
# on offload's PostgreSQL) and counts their rows. One process serves every request of a drill: importing
# pyiceberg takes seconds, loading a table a fraction of one. Started by src/verify/pyiceberg-reader.ts with
# CATALOG, CATALOG_URI, WAREHOUSE and the S3 settings in its environment; reads one JSON request per line on
# stdin ({"id", "table"}), answers one JSON line per request on stdout after a {"ready": true} line.
import json, os, sys
from pyiceberg.catalog.sql import SqlCatalog
props = {"uri": os.environ["CATALOG_URI"], "warehouse": os.environ["WAREHOUSE"]}
if os.environ.get("S3_ENDPOINT"):
    props.update({"s3.endpoint": os.environ["S3_ENDPOINT"], "s3.access-key-id": os.environ.get("AWS_ACCESS_KEY_ID", ""),
                  "s3.secret-access-key": os.environ.get("AWS_SECRET_ACCESS_KEY", ""), "s3.region": os.environ.get("AWS_REGION", "us-east-1"),
                  "s3.force-virtual-addressing": "false"})
catalog = SqlCatalog(os.environ["CATALOG"], **props)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    try:
        table = catalog.load_table(req["table"])
        snapshot = table.current_snapshot()
        scan = table.scan()
        files = list(scan.plan_files())
        try:
            rows = scan.count()
        except AttributeError:
            rows = scan.to_arrow().num_rows
        out = {"id": req["id"], "ok": True, "snapshot": str(snapshot.snapshot_id) if snapshot else None, "rows": rows, "files": len(files)}
    except Exception as e:
        out = {"id": req["id"], "ok": False, "error": type(e).__name__ + ": " + str(e).splitlines()[0] if str(e) else type(e).__name__}
    print(json.dumps(out), flush=True)

# pyiceberg-loads: an independent reader. Loads tables through the same catalog as the offload (pyiceberg's
# SqlCatalog on offload's PostgreSQL for the JDBC catalog; its RestCatalog for an http(s) CATALOG_URI) and
# counts their rows. One process serves every request of a drill: importing pyiceberg takes seconds, loading
# a table a fraction of one. Started by src/verify/pyiceberg-reader.ts with CATALOG, CATALOG_URI, WAREHOUSE
# (CATALOG_TOKEN, CATALOG_CREDENTIAL, CATALOG_SCOPE, CATALOG_OAUTH2_URI for a REST catalog) and the S3
# settings in its environment; reads one JSON request per line on stdin ({"id", "table"}), answers one JSON
# line per request on stdout after a {"ready": true} line.
import json, os, sys
props = {"uri": os.environ["CATALOG_URI"], "warehouse": os.environ["WAREHOUSE"]}
if os.environ.get("S3_ENDPOINT"):
    props.update({"s3.endpoint": os.environ["S3_ENDPOINT"], "s3.access-key-id": os.environ.get("AWS_ACCESS_KEY_ID", ""),
                  "s3.secret-access-key": os.environ.get("AWS_SECRET_ACCESS_KEY", ""), "s3.region": os.environ.get("AWS_REGION", "us-east-1"),
                  "s3.force-virtual-addressing": "false"})
if props["uri"].startswith(("http://", "https://")):
    from pyiceberg.catalog.rest import RestCatalog
    if not props["warehouse"]:
        del props["warehouse"]
    for var, prop in (("CATALOG_TOKEN", "token"), ("CATALOG_CREDENTIAL", "credential"), ("CATALOG_SCOPE", "scope"), ("CATALOG_OAUTH2_URI", "oauth2-server-uri")):
        if os.environ.get(var):
            props[prop] = os.environ[var]
    catalog = RestCatalog(os.environ["CATALOG"], **props)
else:
    from pyiceberg.catalog.sql import SqlCatalog
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

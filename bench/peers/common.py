"""What the benchmark's Python peers share: the catalog (the offload's JDBC catalog in PostgreSQL, read and
written through pyiceberg), the peak RSS of this process, and one JSON line on stdout as the result.
Environment: CATALOG, CATALOG_URI (SQLAlchemy URL), WAREHOUSE, S3_ENDPOINT, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION."""
import json
import os
import resource


def catalog(io: str = "pyarrow"):
    from pyiceberg.catalog.sql import SqlCatalog

    props = {
        "uri": os.environ["CATALOG_URI"],
        "warehouse": os.environ["WAREHOUSE"],
        "s3.endpoint": os.environ["S3_ENDPOINT"],
        "s3.access-key-id": os.environ["AWS_ACCESS_KEY_ID"],
        "s3.secret-access-key": os.environ["AWS_SECRET_ACCESS_KEY"],
        "s3.region": os.environ.get("AWS_REGION", "us-east-1"),
        "s3.force-virtual-addressing": "false",
        # A loaded machine: pyarrow's S3 client otherwise gives up on a read that stalls for 3 seconds.
        "s3.connect-timeout": "60",
        "s3.request-timeout": "120",
    }
    if io == "fsspec":
        # pyarrow's own S3 client rejects moto's reply to a multipart completion; s3fs does not.
        props["py-io-impl"] = "pyiceberg.io.fsspec.FsspecFileIO"
    return SqlCatalog(os.environ["CATALOG"], **props)


def peak_rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def report(**fields) -> None:
    print(json.dumps({**fields, "peakRssMb": peak_rss_mb()}), flush=True)

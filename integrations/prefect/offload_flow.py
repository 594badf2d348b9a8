"""Prefect 3 flow: offload every configured table with the `offload` CLI, layer by layer.

One task per table in the configuration file (offload.config.json / .yaml): the bronze tasks run
concurrently, then silver, then gold — the layer order of the k2 platform, where silver is built from
bronze and the candles from silver. Each task runs `offload run --table T --json` and turns its result
into Prefect logs, a task result, and a task failure when the offload failed (exit code != 0).

A table whose layer depends on a failed table is not offloaded: its task fails at once, naming the
tables it waited for. Retries are Prefect's: a task is retried when the offload said the failure may
pass (another worker holds the table, a service could not be reached, a concurrent commit won) — safe,
because an offload is idempotent (a retry of a committed window finds nothing new).

Settings (flow parameters, else the environment of the worker):
  offload_cli   OFFLOAD_CLI      the command that runs the CLI, e.g. "offload" or "node /opt/offload/bin/offload.js"
  config        OFFLOAD_CONFIG   the table configuration (default ./offload.config.json, .yaml, .yml)
The connections (CLICKHOUSE_URL, DATABASE_URL, AWS_*, OFFLOAD_WAREHOUSE) are passed through from the
worker's environment to the CLI, never through flow parameters, so no secret lands in Prefect's database.

Usage:
  python offload_flow.py run  [--config FILE] [--offload-cli CMD]   one run, now
  python offload_flow.py serve [--every 15m] [...]                  a deployment on a schedule, served by this process
  prefect deploy --all   (from this folder; see prefect.yaml)       deployments on an existing Prefect server
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.futures import PrefectFuture, wait
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import allow_failure

LAYERS = ("bronze", "silver", "gold")
CONFIG_FILES = ("offload.config.json", "offload.config.yaml", "offload.config.yml")

# The CLI's exit codes (`offload --help`); these failures may pass on their own, so Prefect retries them.
RETRYABLE_EXIT_CODES = {
    4: "a service (ClickHouse, PostgreSQL, S3) cannot be reached",
    5: "another worker holds the table",
    6: "a concurrent commit won and re-planning did not succeed",
}
EXIT_CODE_MEANINGS = {
    1: "the offload failed",
    2: "bad command line",
    3: "bad configuration file or environment",
    7: "an invariant check failed",
    70: "internal error",
    **RETRYABLE_EXIT_CODES,
}


class OffloadFailed(Exception):
    """`offload run` ended with a non-zero exit code."""

    def __init__(self, table: str, exit_code: int, message: str, result: dict[str, Any] | None):
        super().__init__(message)
        self.table = table
        self.exit_code = exit_code
        self.result = result

    @property
    def is_retryable(self) -> bool:
        return self.exit_code in RETRYABLE_EXIT_CODES


class UpstreamLayerFailed(Exception):
    """The table was not offloaded because a table of a layer it depends on failed."""


@dataclass(frozen=True)
class ConfiguredTable:
    name: str
    layer: str


# ─── Configuration ───────────────────────────────────────────────────────────────────────────────────


def resolve_config(config: str | None = None) -> Path:
    """The configuration file the CLI would read: the argument, else OFFLOAD_CONFIG, else ./offload.config.*."""
    given = config or os.environ.get("OFFLOAD_CONFIG")
    if given:
        return Path(given).expanduser().resolve()
    for name in CONFIG_FILES:
        if Path(name).exists():
            return Path(name).resolve()
    return Path(CONFIG_FILES[0]).resolve()


def configured_tables(config_file: Path) -> list[ConfiguredTable]:
    """The tables of the configuration file, in file order. The CLI validates the rest of the file."""
    try:
        text = config_file.read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"{config_file}: cannot read it ({err.strerror}); set OFFLOAD_CONFIG or the flow's `config` parameter") from err
    if config_file.suffix.lower() in (".yaml", ".yml"):
        import yaml  # a dependency of Prefect itself

        doc = yaml.safe_load(text)
    else:
        doc = json.loads(text)
    tables = doc.get("tables") if isinstance(doc, dict) else None
    if not isinstance(tables, list):
        raise ValueError(f'{config_file}: expected an object with a "tables" list')
    out: list[ConfiguredTable] = []
    for i, t in enumerate(tables):
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) or t.get("layer") not in LAYERS:
            raise ValueError(f'{config_file}: tables[{i}]: expected "name" and "layer" (one of {", ".join(LAYERS)})')
        out.append(ConfiguredTable(t["name"], t["layer"]))
    return out


def offload_command(offload_cli: str | None = None) -> list[str]:
    """The command that runs the CLI, as an argument list."""
    text = offload_cli or os.environ.get("OFFLOAD_CLI") or "offload"
    return shlex.split(text)


# ─── The CLI's output ────────────────────────────────────────────────────────────────────────────────


def table_result(stdout: str, table: str) -> dict[str, Any] | None:
    """The table's entry in `offload run --json` output: {"results": [{"table": T, "status": …, …}]}.
    None when there is no such document (the CLI stopped before it could print one: bad configuration,
    unreachable service; its stderr says why)."""
    try:
        doc = json.loads(stdout)
    except json.JSONDecodeError:
        return None
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list):
        return None
    return next((r for r in results if isinstance(r, dict) and r.get("table") == table), None)


def _pick(d: dict[str, Any] | None, *keys: str) -> Any:
    if not d:
        return None
    for k in keys:
        if d.get(k) is not None:
            return d[k]
    return None


def watermark_text(w: Any) -> str | None:
    if isinstance(w, dict):
        ts = w.get("timestamp")
        tb = w.get("tieBreak")
        return f"{ts} #{tb}" if tb is not None else ts
    return w if isinstance(w, str) else None


def summarize(table: str, layer: str, exit_code: int, result: dict[str, Any] | None, elapsed: float) -> dict[str, Any]:
    """The task's result: what happened to the table, in a few stable keys."""
    status = _pick(result, "status")
    if status is None:
        status = "ok" if exit_code == 0 else "failed"
    rows = _pick(result, "rows")
    # A committed table lists its batches (one commit each); the last one holds the current snapshot.
    batches = result.get("batches") if result else None
    last_batch = batches[-1] if isinstance(batches, list) and batches and isinstance(batches[-1], dict) else None
    return {
        "table": table,
        "layer": layer,
        "status": str(status),
        "exit_code": exit_code,
        "rows": rows if isinstance(rows, int) else 0,
        "files": _pick(result, "files"),
        "snapshot_id": _pick(last_batch, "snapshotId"),
        "watermark": watermark_text(_pick(result, "watermark")),
        "run_id": _pick(last_batch, "runId"),
        "batches": len(batches) if isinstance(batches, list) else 0,
        "error": _pick(result, "error", "reason"),
        "seconds": round(elapsed, 3),
    }


def describe(summary: dict[str, Any]) -> str:
    s = summary
    parts = [f"{s['table']} ({s['layer']}): {s['status']}"]
    if s["status"] == "committed" or s["rows"]:
        parts.append(f"{s['rows']:,} rows" + (f" in {s['files']} files" if s["files"] is not None else ""))
    if s["watermark"]:
        parts.append(f"watermark {s['watermark']}")
    if s["snapshot_id"]:
        parts.append(f"snapshot {s['snapshot_id']}")
    parts.append(f"{s['seconds']:.2f} s")
    return ", ".join(parts)


# ─── Tasks and the flow ──────────────────────────────────────────────────────────────────────────────


def retry_when_it_may_pass(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's retry condition: retry what may pass by itself (busy, unreachable, conflict), nothing else."""
    exc = state.data
    if not isinstance(exc, BaseException):
        try:
            exc = state.result(raise_on_failure=False)
        except BaseException as err:  # noqa: BLE001 - whatever it is, decide on it
            exc = err
    return isinstance(exc, OffloadFailed) and exc.is_retryable


@task(
    name="offload-table",
    task_run_name="{table}",
    retries=2,
    retry_delay_seconds=30,
    retry_condition_fn=retry_when_it_may_pass,
)
def offload_table(table: str, layer: str, offload_cli: str | None, config: str, blocked_by: list[str]) -> dict[str, Any]:
    """Offloads one table with `offload run --table T --json`; fails when the offload failed."""
    logger = get_run_logger()
    if blocked_by:
        raise UpstreamLayerFailed(f"{table} not offloaded: the {layer} layer comes after {', '.join(blocked_by)}, which failed")

    command = [*offload_command(offload_cli), "run", "--table", table, "--json", "--config", config]
    started = time.monotonic()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
    except FileNotFoundError as err:
        raise OffloadFailed(table, 127, f"cannot run the offload CLI {command[0]!r} ({err.strerror}); set OFFLOAD_CLI or the flow's `offload_cli` parameter", None) from err
    elapsed = time.monotonic() - started

    result = table_result(proc.stdout, table)
    summary = summarize(table, layer, proc.returncode, result, elapsed)
    # The CLI's own lines (window, commits, warnings, the error; with --json they go to stderr) become
    # Prefect logs. Secrets are never in them: the CLI redacts what it prints.
    for line in proc.stderr.splitlines():
        if line.strip():
            (logger.error if proc.returncode != 0 or "FAILED" in line else logger.info)(line)

    if proc.returncode != 0:
        meaning = EXIT_CODE_MEANINGS.get(proc.returncode, "unexpected exit code")
        # The CLI says what went wrong on stderr in lines that start with "offload:".
        said = [l.strip() for l in proc.stderr.splitlines() if l.startswith("offload:")]
        stderr_tail = " ".join(said) or " ".join(l.strip() for l in proc.stderr.strip().splitlines()[-1:])
        detail = summary["error"] or stderr_tail or meaning
        message = f"{table}: offload exited with {proc.returncode} ({meaning}): {detail}"
        if proc.returncode in RETRYABLE_EXIT_CODES:
            message += " — Prefect retries this"
        raise OffloadFailed(table, proc.returncode, re.sub(r"\s+", " ", message).strip(), summary)

    logger.info(describe(summary))
    return summary


@flow(name="offload-all", task_runner=ThreadPoolTaskRunner(max_workers=4))
def offload_all(
    config: str | None = None,
    offload_cli: str | None = None,
    retries: int = 2,
    retry_delay_seconds: float = 30.0,
) -> dict[str, Any]:
    """Offloads every configured table: bronze tasks concurrently, then silver, then gold.

    A failed table fails its task; the tables of the layers after it are not offloaded and their tasks
    fail too, naming why. The flow fails when any table failed, after every layer has been decided.
    """
    logger = get_run_logger()
    config_file = resolve_config(config)
    tables = configured_tables(config_file)
    logger.info(f"{len(tables)} tables in {config_file}: " + "; ".join(f"{layer} {', '.join(t.name for t in tables if t.layer == layer) or '—'}" for layer in LAYERS))
    run_table = offload_table.with_options(retries=retries, retry_delay_seconds=retry_delay_seconds)

    outcomes: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    previous: list[PrefectFuture[Any]] = []
    for layer in LAYERS:
        in_layer = [t for t in tables if t.layer == layer]
        if not in_layer:
            continue
        blocked_by = list(failed)
        # wait_for records the layer dependency in Prefect (the graph shows it); allow_failure lets the
        # task start anyway so it can fail with a message that names the failed tables.
        futures = {
            t.name: run_table.submit(t.name, layer, offload_cli, str(config_file), blocked_by, wait_for=[allow_failure(f) for f in previous])
            for t in in_layer
        }
        wait(list(futures.values()))
        for name, future in futures.items():
            state = future.state
            if state.is_completed():
                outcomes[name] = future.result()
            else:
                failed.append(name)
                exc = future.result(raise_on_failure=False)
                outcomes[name] = {"table": name, "layer": layer, "status": "failed", "error": str(exc) if isinstance(exc, BaseException) else state.message}
        previous = list(futures.values())

    for name, o in outcomes.items():
        logger.info(f"{name}: {o['status']}" + (f", {o.get('rows', 0):,} rows" if o["status"] == "committed" else "") + (f" — {o['error']}" if o.get("error") else ""))
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(tables)} tables failed: {', '.join(failed)}")
    return {"tables": outcomes}


# ─── Command line ────────────────────────────────────────────────────────────────────────────────────


def parse_interval(text: str) -> timedelta:
    """"15m", "90s", "1h", "1h30m" → timedelta."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if not re.fullmatch(r"(\d+[smhd])+", text.strip()):
        raise argparse.ArgumentTypeError(f'"{text}" is not an interval (expected e.g. "15m", "90s", "1h")')
    return timedelta(seconds=sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhd])", text)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Offload every configured table with Prefect: bronze → silver → gold.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "run the flow once, now"), ("serve", "serve a deployment of the flow on a fixed schedule")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--config", help="table configuration (default: $OFFLOAD_CONFIG or ./offload.config.json)")
        p.add_argument("--offload-cli", help='command that runs the CLI (default: $OFFLOAD_CLI or "offload")')
        p.add_argument("--retries", type=int, default=2, help="retries of a table whose failure may pass (default 2)")
        p.add_argument("--retry-delay", type=float, default=30.0, help="seconds between retries (default 30)")
    serve = sub.choices["serve"]
    serve.add_argument("--every", type=parse_interval, default=timedelta(minutes=15), help="schedule interval (default 15m)")
    serve.add_argument("--name", default="offload-every-15m", help="deployment name (default offload-every-15m)")
    args = parser.parse_args(argv)

    parameters = {"config": args.config, "offload_cli": args.offload_cli, "retries": args.retries, "retry_delay_seconds": args.retry_delay}
    if args.command == "serve":
        offload_all.serve(name=args.name, interval=args.every, parameters=parameters)
        return 0
    state = offload_all(**parameters, return_state=True)
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main())

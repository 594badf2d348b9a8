"""Runs integrations/prefect/offload_flow.py with real Prefect for the tests, one flow run per request.

Reads requests as JSON lines on stdin and answers each with one JSON line on stdout, so a test file pays
for Prefect's temporary local server once (it is started with the first flow run and lives as long as
this process). Request: {"parameters": {...flow parameters...}, "env": {...set for the CLI...}}.
Answer: the flow run's state, its task runs (name, state, times, retries) and its logs, read back from
Prefect's API, and the flow's return value when it completed.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "integrations" / "prefect"))

from prefect.client.orchestration import get_client  # noqa: E402
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId  # noqa: E402
from prefect.logging.handlers import APILogWorker  # noqa: E402

import offload_flow  # noqa: E402

FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def iso(t: Any) -> str | None:
    return t.isoformat() if t is not None else None


def read_back(flow_run_id: Any, expected_tasks: int, deadline_s: float = 60.0) -> dict[str, Any]:
    """Task runs and logs as Prefect's API has them. The server records task states and logs from events
    that arrive asynchronously, so this polls (with a deadline) until every task run has a final state."""
    APILogWorker.drain_all(timeout=10)
    deadline = time.monotonic() + deadline_s
    with get_client(sync_client=True) as client:
        while True:
            flow_run = client.read_flow_run(flow_run_id)
            task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            settled = len(task_runs) >= expected_tasks and all(t.state is not None and t.state.type.value in FINAL for t in task_runs)
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    names = {t.id: t.name for t in task_runs}
    return {
        "flowRun": {
            "id": str(flow_run.id),
            "name": flow_run.name,
            "state": flow_run.state.type.value if flow_run.state else None,
            "message": flow_run.state.message if flow_run.state else None,
        },
        "tasks": [
            {
                "name": t.name,
                "state": t.state.type.value if t.state else None,
                "stateName": t.state.name if t.state else None,
                "message": t.state.message if t.state else None,
                "start": iso(t.start_time),
                "end": iso(t.end_time),
                "runCount": t.run_count,
                "waitFor": [str(i.id) for i in t.task_inputs.get("wait_for", [])],
            }
            for t in sorted(task_runs, key=lambda t: t.name)
        ],
        "taskIds": {str(k): v for k, v in names.items()},
        "logs": [
            {"level": log.level, "message": log.message, "task": names.get(log.task_run_id) if log.task_run_id else None}
            for log in sorted(logs, key=lambda l: l.timestamp)
        ],
    }


def handle(request: dict[str, Any]) -> dict[str, Any]:
    for key, value in (request.get("env") or {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    parameters = request.get("parameters") or {}
    expected = len(offload_flow.configured_tables(offload_flow.resolve_config(parameters.get("config"))))
    started = time.monotonic()
    state = offload_flow.offload_all(**parameters, return_state=True)
    elapsed = time.monotonic() - started
    answer = read_back(state.state_details.flow_run_id, expected)
    answer["seconds"] = round(elapsed, 3)
    answer["result"] = state.result(raise_on_failure=False) if state.is_completed() else None
    return answer


def main() -> None:
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = handle(json.loads(line))
        except Exception as err:  # noqa: BLE001 - the test reads it
            answer = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
        print(json.dumps(answer, default=str), flush=True)


if __name__ == "__main__":
    main()

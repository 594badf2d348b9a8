"""Runs integrations/prefect/offload_flow.py with real Prefect for the tests, one flow run per request.

Reads requests as JSON lines on stdin and answers each with one JSON line on stdout, so a test file pays
for Prefect's temporary local server once (it is started with the first flow run and lives as long as
this process). Request: {"parameters": {...flow parameters...}, "env": {...set for the CLI...}}.
Answer: the flow run's state, its task runs (name, state, times, retries) and its logs, read back from
Prefect's API, and the flow's return value when it completed.

Request {"deploy": {...flow parameters...}, "env": {...}} deploys integrations/prefect/prefect.yaml as an
operator would, with Prefect's own CLI against this process's Prefect server (work pool, `prefect deploy
--all`), reads the deployment back, asks the server for the runs its schedule makes, triggers one run by
hand and lets a process worker (`prefect worker start --run-once`) execute it.
"""

from __future__ import annotations

import json
import os
import subprocess
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
FLOW_DIR = Path(__file__).resolve().parents[3] / "integrations" / "prefect"
PREFECT = str(Path(sys.executable).parent / "prefect")


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


def prefect_cli(args: list[str], env: dict[str, str], cwd: Path = FLOW_DIR, timeout: float = 600) -> str:
    proc = subprocess.run([PREFECT, "--no-prompt", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"prefect {' '.join(args)} exited with {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def deploy(parameters: dict[str, Any]) -> dict[str, Any]:
    from datetime import datetime, timedelta, timezone

    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        client.hello()  # starts this process's server if no flow has run yet
        api_url = str(client.api_url).rstrip("/")
    env = {**os.environ, "PREFECT_API_URL": api_url, "OFFLOAD_PREFECT_DIR": str(FLOW_DIR)}
    prefect_cli(["work-pool", "create", "offload", "--type", "process", "--overwrite"], env)
    deploy_output = prefect_cli(["deploy", "--all"], env)

    with get_client(sync_client=True) as client:
        d = client.read_deployment_by_name("offload-all/offload-every-15m")
        # The runs the schedule makes (what the server's scheduler does on its loop), an hour from now on.
        start = datetime.now(timezone.utc) + timedelta(hours=1)
        client.request("POST", "/deployments/{id}/schedule", path_params={"id": d.id}, json={"start_time": start.isoformat(), "min_runs": 4, "max_runs": 4, "min_time": 0})
        scheduled = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[d.id])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))),
        )
        times = sorted(r.expected_start_time for r in scheduled if r.expected_start_time is not None)
        manual = client.create_flow_run_from_deployment(d.id, parameters=parameters)
        deployment = {
            "name": d.name,
            "entrypoint": d.entrypoint,
            "workPool": d.work_pool_name,
            "pullSteps": d.pull_steps,
            "parameters": d.parameters,
            "schedules": [
                {"interval": s.schedule.interval.total_seconds() if getattr(s.schedule, "interval", None) else None, "timezone": getattr(s.schedule, "timezone", None), "active": s.active}
                for s in d.schedules
            ],
            "concurrency": {
                "limit": d.global_concurrency_limit.limit if d.global_concurrency_limit else None,
                "collisionStrategy": d.concurrency_options.collision_strategy.value if d.concurrency_options else None,
            },
            "scheduledRunSpacingSeconds": [(b - a).total_seconds() for a, b in zip(times, times[1:])],
        }

    # A process worker, as on the machine that runs the offloads: it takes the manual run and executes it.
    worker = subprocess.run([PREFECT, "worker", "start", "--pool", "offload", "--run-once"], cwd=FLOW_DIR, env=env, capture_output=True, text=True, timeout=900, check=False)
    deadline = time.monotonic() + 120
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(manual.id)
            if (run.state and run.state.type.value in FINAL) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    tables = len(offload_flow.configured_tables(offload_flow.resolve_config(parameters.get("config"))))
    answer = read_back(manual.id, tables)
    answer["deployment"] = deployment
    answer["deployOutput"] = deploy_output[-2000:]
    answer["workerExitCode"] = worker.returncode
    answer["workerOutput"] = (worker.stdout + worker.stderr)[-4000:]
    answer["result"] = None
    return answer


def handle(request: dict[str, Any]) -> dict[str, Any]:
    for key, value in (request.get("env") or {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if "deploy" in request:
        return deploy(request["deploy"] or {})
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

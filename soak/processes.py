"""The engine as separate processes, the way it runs in production: the Temporal dev server on a persistent
database, N `styletrial worker` processes and one `styletrial api`, each of which the campaign may kill."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cli.devserver import port_open, start_dev_server
from tests.machine import free_port

BIN = Path(sys.executable).parent
TOKENS = {"soak-fulfilment": "fulfilment", "soak-support": "support", "soak-read": "read"}
# The carriers' tracking webhook (EasyPost's, signed): half the plans' parcels are delivered by it.
EASYPOST_SECRET = "soak-easypost-webhook-secret"  # a throwaway for the campaign's own stack
LOCALSTRIPE_KEY = "sk_test_soak_localstripe"  # localstripe accepts any key; this one is not a secret


@dataclass
class Stack:
    root: Path
    time_scale: float
    workers: int = 2
    # "simulated", or "stripe" through this base URL (localstripe, behind the fault proxy)
    payments: str = "simulated"
    stripe_api_base: str | None = None
    # A webhook subscriber the workers send every trial event to (name "soak"), with its secret.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    temporal_port: int = field(default_factory=free_port)
    ui_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    server: subprocess.Popen[bytes] | None = None
    worker_procs: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    api: subprocess.Popen[bytes] | None = None
    unexpected_exits: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.root / 'styletrial.sqlite'}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "STYLETRIAL_DATA_DIR": str(self.root),
            "STYLETRIAL_TEMPORAL_ADDRESS": self.address,
            "STYLETRIAL_API_PORT": str(self.api_port),
            "STYLETRIAL_PUBLIC_URL": self.api_url,  # the links in clients' messages (a return label)
            "STYLETRIAL_TEMPORAL_UI_PORT": str(self.ui_port),
            "STYLETRIAL_API_TOKENS": json.dumps(TOKENS),
            "STYLETRIAL_TIME_SCALE": str(self.time_scale),
            "STYLETRIAL_PAYMENTS": self.payments,
            "STYLETRIAL_EASYPOST_WEBHOOK_SECRET": EASYPOST_SECRET,
            **(
                {"STYLETRIAL_STRIPE_API_BASE": self.stripe_api_base, "STYLETRIAL_STRIPE_API_KEY": LOCALSTRIPE_KEY}
                if self.stripe_api_base
                else {}
            ),
            **(
                {
                    "STYLETRIAL_WEBHOOKS": json.dumps(
                        [{"name": "soak", "url": self.webhook_url, "secrets": [self.webhook_secret]}]
                    ),
                    # Retries every half second to two: the campaign takes minutes, not a day.
                    "STYLETRIAL_WEBHOOK_BACKOFF": json.dumps([0.5, 1.0] + [2.0] * 500),
                }
                if self.webhook_url
                else {}
            ),
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(BIN / "styletrial"), "db", "upgrade"], env=self.env(), check=True, capture_output=True)
        self.start_server()
        self.worker_procs = [None] * self.workers
        for i in range(self.workers):
            self.start_worker(i)
        self.start_api()

    def stop(self) -> None:
        for proc in [self.api, *self.worker_procs, self.server]:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 (the child owns the handle)
        with log:
            return subprocess.Popen(
                [str(BIN / "styletrial"), *args], env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def start_server(self) -> None:
        self.server = start_dev_server(self.root, self.temporal_port, self.ui_port, ["--headless"])

    def start_worker(self, i: int) -> None:
        while len(self.worker_procs) <= i:
            self.worker_procs.append(None)
        self.worker_procs[i] = self._spawn(f"worker-{i}", "worker")

    def start_api(self) -> None:
        self.api = self._spawn("api", "api")
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", self.api_port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start; see {self.root}/api.log")
            time.sleep(0.1)

    # ------------------------------------------------------------------ faults

    def kill_worker(self, i: int) -> None:
        proc = self.worker_procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        self.worker_procs[i] = None

    def stall_worker(self, i: int) -> bool:
        """Freeze worker `i` (SIGSTOP); False when it is not running."""
        proc = self.worker_procs[i]
        if proc is None or proc.poll() is not None:
            return False
        proc.send_signal(signal.SIGSTOP)
        return True

    def resume_worker(self, i: int) -> None:
        proc = self.worker_procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)

    def stop_server(self, sig: signal.Signals) -> None:
        assert self.server is not None
        self.server.send_signal(sig)
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()

    def kill_api(self) -> None:
        assert self.api is not None
        self.api.send_signal(signal.SIGKILL)
        self.api.wait()
        self.api = None  # a planned outage: `revive` leaves it to the campaign

    def revive(self) -> None:
        """Restart any worker or API that exited by itself (a process that should have waited and retried)."""
        for i, proc in enumerate(self.worker_procs):
            if proc is not None and proc.poll() is not None:
                self.unexpected_exits += 1
                self.start_worker(i)
        if self.api is not None and self.api.poll() is not None:
            self.unexpected_exits += 1
            self.start_api()

"""What tests need from the machine: a free loopback port, a small HTTP server on it, and Debian packages
installed on demand."""

import fcntl
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output free of access-log lines."""

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free loopback port in a thread; yield the base URL; stop."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def ensure_debian_package(package: str, executable: str) -> str:
    """The path of `executable`, installing Debian's `package` first when it is missing. CI runs as root on
    a machine that reaches Debian's mirror; nothing comes from anywhere else. The suite runs in several
    processes, and two of them must not run apt at once (dpkg's lock would refuse the second): they take
    turns on a lock file, and the one that waited finds the package there."""
    with open("/tmp/styletrial-tests-apt.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = shutil.which(executable)
        if found is None:
            subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True, timeout=300)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                check=True, capture_output=True, timeout=900,
            )  # fmt: skip
            found = shutil.which(executable)
    assert found, f"{executable} is missing after installing {package}"
    return found


class Mailbox:
    """A real SMTP server's mailbox (aiosmtpd): every message it accepted, parsed."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=email_policy.default))
        return "250 Message accepted for delivery"

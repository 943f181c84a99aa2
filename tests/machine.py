"""What tests need from the machine: a free loopback port, and Debian packages installed on demand."""

import shutil
import socket
import subprocess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_debian_package(package: str, executable: str) -> str:
    """The path of `executable`, installing Debian's `package` first when it is missing. CI runs as root on
    a machine that reaches Debian's mirror; nothing comes from anywhere else."""
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

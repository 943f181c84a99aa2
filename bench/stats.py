"""The one percentile every benchmark reports (nearest rank, no interpolation), and wrk's figures."""

import re
import subprocess


def ms(seconds: list[float], p: float) -> float:
    """The `p` quantile (0 < p < 1) of durations measured in seconds, in milliseconds."""
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, *, connections: int, seconds: int, options: list[str]) -> dict[str, float]:
    """Debian's wrk against `url` (2 threads): requests/s as `rps`, latency p50 and p99 in ms as `50%` and
    `99%`. Any non-2xx answer fails the benchmark."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *options, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk got errors:\n{out}")
    latency = {q: float(v) * _UNITS[u] for q, v, u in re.findall(r"^\s+(50%|99%)\s+([\d.]+)(us|ms|s)$", out, re.M)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {**latency, "rps": rps}

"""`make bench`: every benchmark in turn (about 30 minutes), each printing its own report, then the headline
figures again as `name=value` lines at the very end, so that a script can read them.

    .venv/bin/python -m bench
"""

import subprocess
import sys

RUNS = [
    ["bench.bench_domain"],
    ["bench.bench_projection"],
    ["bench.bench_payments"],
    ["bench.bench_workflow", "60", "10"],
    ["bench.bench_history", "25"],
    ["bench.bench_engine_vs_bare", "5", "20", "10"],
    ["bench.bench_worker_cpu", "5", "20", "10"],
    ["bench.bench_api", "100", "50"],
    ["bench.bench_memory", "1000", "10000"],
    ["bench.bench_webhooks", "100"],
    ["bench.bench_observability", "6", "8"],
    ["bench.bench_reports", "1000000", "10"],
    ["bench.bench_reports_page", "20", "3"],
    ["bench.bench_codec", "15", "2000"],
    ["bench.bench_open_loop", "15", "150"],
]
HEADLINES = (
    "ratio_engine_bare", "history_events", "history_kb", "read_p99_ms", "list_p99_ms", "read_mixed_p99_ms",
    "command_p99_ms",
    "rss_mib_10k", "rss_ratio_engine_bare", "evicted_command_p99_ms", "webhook_p50_ms", "webhook_p99_ms",
    "observability_metrics_rps_ratio", "observability_traced_rps_ratio", "report_keep_rate_designer_30d_p95_ms",
    "report_keep_rate_sku_30d_p95_ms", "healthz_p99_ms_under_reports", "customer_story_p95_ms",
    "shopper_trials_p95_ms", "buying_digest_p95_ms", "codec_ratio_trial_key", "codec_first_payload_ms",
    "capacity_commands_per_s", "burst_command_p99_ms", "cpu_ratio_engine_bare", "worker_cpu_ratio_engine_bare",
    "rss_kib_per_trial_engine",
)  # fmt: skip


def main() -> int:
    figures: dict[str, str] = {}
    failed = []
    for run in RUNS:
        print(f"\n$ python -m {' '.join(run)}", flush=True)
        done = subprocess.run([sys.executable, "-m", *run], capture_output=True, text=True)
        print(done.stdout, end="", flush=True)
        if done.returncode != 0:
            failed.append(run[0])
            print(done.stderr[-2000:], file=sys.stderr)
        for line in done.stdout.splitlines():
            name, sep, value = line.partition("=")
            if sep and name.isidentifier():
                figures[name] = value
    print()
    for name in HEADLINES:
        print(f"{name}={figures.get(name, 'missing')}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

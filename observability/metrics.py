"""The engine's Prometheus metrics (docs/operations.md lists each one, with the alerts worth setting).

Two kinds:
- **From the database, at scrape time** (`persistence.metrics.ReadModelCollector`, registered here by the
  composition root): trials by status, needs attention, dunning,
  money charged and declined, the webhook outbox. The read model and the ledger are the truth, shared by
  every process, so these figures are exact and the same from whichever worker or API is scraped: a counter
  kept in memory would double count an activity retried on another worker, and reset when a process
  restarts. Queries are cached for `CACHE_SECONDS`, so a scrape every few seconds costs a few small
  aggregate queries, not one per scrape per series.
- **Measured in the process**: API request latency by route and status, projection lag.

The Temporal SDK's own metrics (workflow task latency, schedule-to-start, sticky cache, polls) are served
by the SDK's runtime on a port of their own (`STYLETRIAL_SDK_METRICS_PORT`, see `bootstrap.sdk_runtime`).
"""

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, start_http_server

# One registry per process, ours only (the default one also carries the process and GC collectors of
# whatever else registered there).
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # process_cpu_seconds_total, process_resident_memory_bytes, ...

# Latency buckets for HTTP: reads take milliseconds, a command waits for its workflow (up to 30 s).
API_REQUEST_SECONDS = Histogram(
    "styletrial_api_request_duration_seconds",
    "HTTP requests by route template, method and status, from the first byte in to the last byte out.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
PROJECTION_LAG_SECONDS = Histogram(
    "styletrial_projection_lag_seconds",
    "From the workflow scheduling a projection to the read model committing it: how stale a GET can be.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)

# Inbound carrier tracking events by what became of them: moved (a trial changed), unchanged (a duplicate or
# a late scan), unknown (no trial has the tracking number), ignored (a status that is not a scan), refused.
CARRIER_EVENTS = Counter(
    "styletrial_carrier_events",
    "Carrier tracking events received, by provider and outcome.",
    ["provider", "outcome"],
    registry=REGISTRY,
)


def serve_metrics(host: str, port: int) -> Any:
    """Serve REGISTRY (and this process's CPU and memory) at http://host:port/metrics, in a thread."""
    server, _thread = start_http_server(port, host, registry=REGISTRY)
    return server

"""Prometheus metrics, served at ``/metrics`` by every process.

Counters live in the default registry, which is per process: each API and worker
process exposes its own, and Prometheus sums them. Label values are small closed
sets (kind, outcome, method, route template), never ids.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

http_requests = Counter(
    "lightbox_http_requests_total",
    "HTTP requests served, by method, route template and status code.",
    ["method", "route", "status"],
)
http_latency = Histogram(
    "lightbox_http_request_seconds",
    "HTTP request latency by route template.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
queue_depth = Gauge(
    "lightbox_queue_depth", "Render tasks waiting in the queue (sampled)."
)
renders = Counter(
    "lightbox_renders_total",
    "Finished render attempts, by record kind and outcome (done, retry, failed).",
    ["kind", "outcome"],
)
render_seconds = Histogram(
    "lightbox_render_seconds",
    "Time to render and store one record, by kind.",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
credits = Counter(
    "lightbox_credits_total",
    "Credits moved through the ledger, by entry kind (grant, reserve, consume, "
    "release).",
    ["kind"],
)
orders = Counter(
    "lightbox_orders_total", "Orders registered, by record kind.", ["kind"]
)

"""Prometheus metrics of the pipeline: envelopes by outcome and rejection code, append and batch
latency. Registered in the process's default registry; `GET /metrics` exposes them."""

from prometheus_client import Counter, Histogram

ENVELOPES = Counter(
    "zs_ingest_envelopes",
    "Envelopes settled by the ingest, by outcome (recorded, duplicate, rejected)",
    ["outcome"],
)
REJECTIONS = Counter("zs_ingest_rejections", "Rejected envelopes by rejection code", ["code"])
APPEND_SECONDS = Histogram(
    "zs_store_append_seconds", "Time to append one batch of accepted events to the store"
)
BATCH_SECONDS = Histogram(
    "zs_ingest_batch_seconds", "Time to settle one ingest batch (judge, append, reject)"
)

"""The Prometheus exporter: one registry over the metadata database, served by `emsync metrics serve`
and by long-lived workers (`python -m flows.catalog.deploy serve`).

Counts are read from the database at each scrape (it holds the truth for every worker at once); the
per-stage histograms are fed incrementally from runs finished since the previous scrape, so a scrape
never rereads old runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from db.models import ABANDONED, SUCCEEDED, utcnow
from flows.catalog import pinning
from flows.ops import queries
from flows.ops.queries import NO_CATALOG, OUTSTANDING_STAGES

# A label value for rows that predate a column (e.g. runs without a job fingerprint): never "".
UNKNOWN = "unknown"
# The flows that write flow-run rows (flows/catalog), and the states such a row ends in.
FLOWS = ("ingest-catalog", "score-catalog", "soundtrack-video", "backfill")
ENDED_STATES = ("completed", "failed", ABANDONED)

STAGE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class StageTimes:
    """Histograms of per-stage seconds, fed by runs as they finish (a watermark on finished_at)."""

    def __init__(self, url: str, lookback_h: float) -> None:
        self.url = url
        self.watermark = utcnow() - timedelta(hours=lookback_h)
        self.lock = threading.Lock()
        self.stage = Histogram(
            "emsync_stage_seconds", "Seconds per soundtrack stage of finished runs", ["stage"],
            buckets=STAGE_BUCKETS, registry=None,
        )
        self.total = Histogram(
            "emsync_run_seconds", "Seconds per soundtrack run (sum of its stages)", ["status"],
            buckets=STAGE_BUCKETS, registry=None,
        )

    def refresh(self) -> int:
        with self.lock:
            rows = queries.finished_runs_since(self.url, self.watermark)
            for finished, status, timings in rows:
                seconds = {k: float(v) for k, v in timings.items() if isinstance(v, int | float)}
                for stage, value in seconds.items():
                    self.stage.labels(stage=stage).observe(value)
                if seconds:
                    self.total.labels(status=status).observe(sum(seconds.values()))
                self.watermark = max(self.watermark, finished)
            return len(rows)

    def collect(self) -> Iterator[Any]:
        """Refresh from the database, then the histograms' families (refreshed first, so a scrape sees
        every run finished before it)."""
        self.refresh()
        yield from self.stage.collect()
        yield from self.total.collect()


class Aggregates:
    """The two aggregates that read every member video (scored videos, emotion distribution), recomputed
    at most every `ttl_s`: they change as slowly as scoring runs, and a scrape must stay cheap."""

    def __init__(self, url: str, ttl_s: float) -> None:
        self.url, self.ttl_s = url, ttl_s
        self.lock = threading.Lock()
        self.at = -float("inf")
        self.scored: dict[str, int] = {}
        self.emotions: list[tuple[str, str, str, str, int]] = []

    def get(self) -> tuple[dict[str, int], list[tuple[str, str, str, str, int]]]:
        with self.lock:
            if time.monotonic() - self.at >= self.ttl_s:
                self.scored = queries.scored_per_catalog(self.url)
                self.emotions = queries.emotions_per_catalog(self.url)
                self.at = time.monotonic()
            return self.scored, self.emotions


def build_info() -> InfoMetricFamily:
    """`emsync_build_info`: the package version and Python behind this exporter (read once)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("emsync")
    except PackageNotFoundError:
        package = UNKNOWN
    info = InfoMetricFamily("emsync_build", "The EMSYNC build serving these metrics")
    info.add_metric([], {"version": package, "python_version": platform.python_version()})
    return info


class CatalogCollector(Collector):
    """Videos by state, queue depth, runs, failures, emotions, flow runs and model versions, per scrape."""

    def __init__(self, url: str, stage_times: StageTimes | None = None, aggregate_ttl_s: float = 0.0) -> None:
        self.url = url
        self.build_info = build_info()
        self.stage_times = stage_times
        self.aggregates = Aggregates(url, aggregate_ttl_s)

    def describe(self) -> list[Any]:
        return []  # computed per scrape: no fixed description, and registering must not hit the database

    def collect(self) -> Iterator[Any]:
        started = time.perf_counter()
        url = self.url
        if self.stage_times is not None:
            yield from self.stage_times.collect()

        names = queries.catalog_names(url)
        videos = GaugeMetricFamily(
            "emsync_catalog_videos", "Member videos per catalog by state", labels=["catalog", "state"]
        )
        members = queries.members_per_catalog(url, names)
        scored, emotion_counts = self.aggregates.get()
        runs = queries.runs_by_status(url, names)
        soundtracked: dict[str, int] = {}
        failed: dict[str, int] = {}
        for catalog, _job, status, n in runs:
            if status == SUCCEEDED:
                soundtracked[catalog] = soundtracked.get(catalog, 0) + n
            elif status == "failed":
                failed[catalog] = failed.get(catalog, 0) + n
        for catalog, n in members.items():
            videos.add_metric([catalog, "registered"], n)
            videos.add_metric([catalog, "scored"], scored.get(catalog, 0))
            videos.add_metric([catalog, "soundtracked"], soundtracked.get(catalog, 0))
            # Runs that failed for the current or an older job; `emsync status` also counts score failures.
            videos.add_metric([catalog, "soundtrack_failed"], failed.get(catalog, 0))
        yield videos

        # Coverage per music model: a catalog moved from v1 to v2 shows both until the move is done.
        by_music = GaugeMetricFamily(
            "emsync_catalog_soundtracked_videos",
            "Member videos with a succeeded soundtrack per catalog, music model (v1, v2, ?) and version",
            labels=["catalog", "music_model", "music"],
        )
        for catalog_id, versions in pinning.coverage(url).items():
            for version, n in sorted(versions.items()):
                if catalog_id in names:
                    by_music.add_metric([names[catalog_id], pinning.model_of_version(version), version], n)
        yield by_music
        pins = InfoMetricFamily("emsync_catalog_music", "The music model each catalog's backfills use",
                                labels=["catalog"])
        for name, model in pinning.pinned_models(url).items():
            pins.add_metric([name], {"music_model": model})
        yield pins

        # `job_fingerprint`, never `job`: a target label named `job` would collide with the scrape's own
        # and arrive renamed `exported_job`.
        by_status = GaugeMetricFamily(
            "emsync_generation_runs", "Soundtrack runs by catalog, job fingerprint and status",
            labels=["catalog", "job_fingerprint", "status"],
        )
        jobs: set[str] = set()
        for catalog, job, status, n in runs:
            by_status.add_metric([catalog, job or UNKNOWN, status], n)
            jobs.add(job)
        yield by_status

        # Monotonic counts (succeeded runs, the append-only failure log) are counters, so rate() is
        # throughput and failure rate. Every catalog gets a series from its first scrape, so its first
        # success or failure is an increase Prometheus can see.
        succeeded_total = CounterMetricFamily(
            "emsync_soundtracks_succeeded", "Soundtrack runs that succeeded, per catalog", labels=["catalog"]
        )
        for catalog in sorted({*members, *soundtracked}):
            succeeded_total.add_metric([catalog], soundtracked.get(catalog, 0))
        yield succeeded_total

        failures_total = CounterMetricFamily(
            "emsync_failures", "Failure-log lines per catalog, stage and kind (input or infra)",
            labels=["catalog", "stage", "kind"],
        )
        seen: set[tuple[str, str, str]] = set()
        for catalog, stage, kind, n in queries.failures_by_kind(url, names):
            failures_total.add_metric([catalog, stage, kind], n)
            seen.add((catalog, stage, kind))
        for catalog in members:
            for stage in ("soundtrack", "score", "register"):
                for kind in ("input", "infra"):
                    if (catalog, stage, kind) not in seen:
                        failures_total.add_metric([catalog, stage, kind], 0)
        yield failures_total

        # Per catalog, every catalog always (an empty queue is a zero, not a missing series); per job
        # fingerprint only where work is queued, so no series carries an empty label.
        depth = GaugeMetricFamily(
            "emsync_queue_depth", "Soundtrack runs waiting (pending), claimed, and claimed under a live lease",
            labels=["catalog", "state"],
        )
        by_job = GaugeMetricFamily(
            "emsync_queue_depth_by_job", "Queued soundtrack runs per catalog, job fingerprint and state",
            labels=["catalog", "job_fingerprint", "state"],
        )
        queue = queries.queue_depth(url, names)
        totals = {catalog: [0, 0, 0] for catalog in members}
        for row in queue:
            counts = totals.setdefault(row.catalog, [0, 0, 0])
            for i, (state, n) in enumerate((("pending", row.pending), ("claimed", row.claimed),
                                            ("leased", row.leased))):
                by_job.add_metric([row.catalog, row.job or UNKNOWN, state], n)
                counts[i] += n
        for catalog, (pending, claimed, leased) in sorted(totals.items()):
            depth.add_metric([catalog, "pending"], pending)
            depth.add_metric([catalog, "claimed"], claimed)
            depth.add_metric([catalog, "leased"], leased)
        yield depth
        yield by_job

        # Videos whose latest attempt failed and that nobody has retried or quarantined yet: what the
        # "failures outstanding" alert keeps firing on after the failure rate has calmed down.
        outstanding = GaugeMetricFamily(
            "emsync_failed_videos", "Member videos whose latest attempt at a stage failed, not yet retried "
            "or quarantined", labels=["catalog", "stage"],
        )
        failed_now = queries.failed_videos_outstanding(url, names)
        for catalog in sorted(members):
            for stage in OUTSTANDING_STAGES:
                outstanding.add_metric([catalog, stage], failed_now.get((catalog, stage), 0))
        yield outstanding

        quarantined = GaugeMetricFamily(
            "emsync_quarantined_videos", "Member videos quarantined (skipped by scheduled runs until retried)",
            labels=["catalog"],
        )
        held = queries.quarantined_per_catalog(url, names)
        for catalog in sorted(members):
            quarantined.add_metric([catalog], held.get(catalog, 0))
        yield quarantined

        emotions = GaugeMetricFamily(
            "emsync_emotion_videos", "Videos per catalog by their dominant overall emotion",
            labels=["catalog", "model", "model_version", "emotion"],
        )
        for catalog, model, version, emotion, n in emotion_counts:
            emotions.add_metric([catalog, model, version, emotion], n)
        yield emotions

        job_info = InfoMetricFamily(
            "emsync_job", "Model versions behind each soundtrack job fingerprint", labels=["job_fingerprint"]
        )
        for job, versions in queries.job_versions(url, {j for j in jobs if j}).items():
            job_info.add_metric([job], {str(k): str(v) or UNKNOWN for k, v in versions.items()})
        yield job_info
        emotion_info = InfoMetricFamily("emsync_emotion_model", "Emotion models that scored videos")
        scored_by = GaugeMetricFamily(
            "emsync_emotion_model_videos", "Videos scored per emotion model", labels=["model", "version"]
        )
        for name, version, n in queries.emotion_models(url):
            emotion_info.add_metric([], {"model": name, "version": version})
            scored_by.add_metric([name, version], n)
        yield emotion_info
        yield scored_by

        last = GaugeMetricFamily(
            "emsync_flow_run_last_start_timestamp_seconds", "Start of the latest run of each flow per catalog",
            labels=["flow", "catalog", "state"],
        )
        for flow, catalog, at, state in queries.last_flow_runs(url, names):
            last.add_metric([flow, catalog, state], at.timestamp())
        yield last

        # Flow runs by how they ended: the count of ended states only grows, so increase() of
        # failed/abandoned is "a flow run failed or crashed". Every catalog starts at zero for every flow,
        # so its first failed run is an increase Prometheus can see.
        flow_runs = CounterMetricFamily(
            "emsync_flow_runs", "Flow runs that ended, per flow, catalog and end state (completed, failed, "
            "abandoned: killed or crashed)", labels=["flow", "catalog", "state"],
        )
        active = GaugeMetricFamily(
            "emsync_flow_runs_active", "Flow runs now running under a live lease", labels=["flow", "catalog"],
        )
        ended, running = queries.flow_run_counts(url, names)
        for catalog in sorted({*members, NO_CATALOG}):
            for flow in FLOWS:
                for state in ENDED_STATES:
                    ended.setdefault((flow, catalog, state), 0)
                running.setdefault((flow, catalog), 0)
        for (flow, catalog, state), n in sorted(ended.items()):
            flow_runs.add_metric([flow, catalog, state], n)
        for (flow, catalog), n in sorted(running.items()):
            active.add_metric([flow, catalog], n)
        yield flow_runs
        yield active

        yield self.build_info

        scrape = GaugeMetricFamily("emsync_exporter_scrape_seconds", "Seconds the last database scrape took")
        scrape.add_metric([], time.perf_counter() - started)
        yield scrape


def build_registry(url: str, lookback_h: float = 24.0, aggregate_ttl_s: float = 0.0) -> CollectorRegistry:
    """A registry with the catalog collector and the stage-time histograms (no process metrics)."""
    registry = CollectorRegistry()
    registry.register(CatalogCollector(url, StageTimes(url, lookback_h), aggregate_ttl_s))
    return registry


HEALTHZ = "/healthz"


def _app(registry: CollectorRegistry) -> Any:  # noqa: ANN401 - a WSGI callable
    """/metrics (and any other path, as prometheus_client serves it) plus /healthz, which answers without
    touching the database, so a liveness probe never costs (or waits on) a full scrape."""
    from prometheus_client import make_wsgi_app

    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:  # noqa: ANN401
        if environ.get("PATH_INFO") == HEALTHZ:
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        return metrics(environ, start_response)

    return app


def serve(url: str, host: str, port: int, lookback_h: float, aggregate_ttl_s: float = 0.0) -> tuple[Any, int]:
    """Start the exporter's HTTP server (/metrics, /healthz) in a thread; returns (server, bound port)."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401 - the base's signature
            pass

    registry = build_registry(url, lookback_h, aggregate_ttl_s)
    server = make_server(host, port, _app(registry), Server, handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, name="emsync-metrics", daemon=True).start()
    return server, int(server.server_address[1])

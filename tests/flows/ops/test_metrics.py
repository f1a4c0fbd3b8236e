"""The Prometheus exporter over a known database: every family, its labels and values, over HTTP too."""

from __future__ import annotations

import urllib.request

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from db.session import make_engine
from flows.ops.metrics import build_registry, serve
from flows.settings import get_settings
from tests.seed import VERSIONS, seed


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_exporter_reports_the_database() -> None:
    url = get_settings().store.resolved_database_url
    make_engine(url)
    seed(url)
    samples = _samples(generate_latest(build_registry(url)).decode())

    films = {"catalog": "films"}
    assert [_value(samples, "emsync_catalog_videos", **films, state=s)
            for s in ("registered", "scored", "soundtracked", "soundtrack_failed")] == [4, 3, 2, 1]
    assert [_value(samples, "emsync_catalog_videos", catalog="ads", state=s)
            for s in ("registered", "scored", "soundtracked", "soundtrack_failed")] == [1, 0, 0, 0]
    assert _value(samples, "emsync_generation_runs", **films, job_fingerprint="job1", status="pending") == 1
    assert _value(samples, "emsync_soundtracks_succeeded_total", **films) == 2
    assert _value(samples, "emsync_soundtracks_succeeded_total", catalog="ads") == 0
    assert _value(samples, "emsync_failures_total", **films, stage="soundtrack", kind="input") == 2
    assert _value(samples, "emsync_failures_total", **films, stage="score", kind="infra") == 1
    assert _value(samples, "emsync_failures_total", catalog="ads", stage="soundtrack", kind="input") == 0
    assert _value(samples, "emsync_queue_depth", **films, state="pending") == 1
    assert _value(samples, "emsync_queue_depth_by_job", **films, job_fingerprint="job1", state="pending") == 1
    assert _value(samples, "emsync_queue_depth", **films, state="claimed") == 0
    assert _value(samples, "emsync_queue_depth", catalog="ads", state="pending") == 0
    # Outstanding: video 2's latest run failed; video 3 failed scoring and has no score.
    assert _value(samples, "emsync_failed_videos", **films, stage="soundtrack") == 1
    assert _value(samples, "emsync_failed_videos", **films, stage="score") == 1
    assert _value(samples, "emsync_failed_videos", catalog="ads", stage="soundtrack") == 0
    assert _value(samples, "emsync_quarantined_videos", **films) == 0
    assert _value(samples, "emsync_flow_runs_total", flow="backfill", **films, state="failed") == 1
    assert _value(samples, "emsync_flow_runs_total", flow="backfill", catalog="ads", state="failed") == 0
    assert _value(samples, "emsync_flow_runs_total", flow="score-catalog", **films, state="completed") == 1
    assert _value(samples, "emsync_flow_runs_active", flow="backfill", **films) == 0
    (build,) = [labels for name, labels in samples if name == "emsync_build_info"]
    assert dict(build)["version"] and dict(build)["python_version"].startswith("3.")
    model = {"catalog": "films", "model": "fer-mini", "model_version": "1"}
    assert _value(samples, "emsync_emotion_videos", **model, emotion="joy") == 2
    assert _value(samples, "emsync_emotion_videos", **model, emotion="fear") == 1
    assert _value(samples, "emsync_job_info", job_fingerprint="job1", **VERSIONS) == 1
    assert _value(samples, "emsync_emotion_model_info", model="fer-mini", version="1") == 1
    assert _value(samples, "emsync_flow_run_last_start_timestamp_seconds", flow="score-catalog", **films,
                  state="completed") > 0
    # Stage histograms: the 3 finished runs' cuts times 1.5, 2.5, 3.5 s, music 4 s each.
    assert _value(samples, "emsync_stage_seconds_count", stage="cuts") == 3
    assert _value(samples, "emsync_stage_seconds_sum", stage="cuts") == 7.5
    assert _value(samples, "emsync_stage_seconds_bucket", stage="cuts", le="2.5") == 2
    assert _value(samples, "emsync_run_seconds_count", status="failed") == 1
    assert _value(samples, "emsync_exporter_scrape_seconds") > 0
    # Prometheus conventions: no target-label names, no empty values, no spaces in identifying values.
    for name, labels in samples:
        keys = dict(labels)
        assert not {"job", "instance"} & set(keys), (name, keys)
        assert all(value for value in keys.values()), (name, keys)
        assert all(" " not in value for key, value in keys.items() if key not in VERSIONS), (name, keys)


def test_histograms_count_each_run_once_across_scrapes() -> None:
    url = get_settings().store.resolved_database_url
    make_engine(url)
    seed(url)
    registry = build_registry(url)
    generate_latest(registry)
    again = _samples(generate_latest(registry).decode())
    assert _value(again, "emsync_stage_seconds_count", stage="music") == 3


def test_served_over_http() -> None:
    url = get_settings().store.resolved_database_url
    make_engine(url)
    seed(url)
    server, port = serve(url, "127.0.0.1", 0, 24.0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
    assert _value(_samples(text), "emsync_catalog_videos", catalog="films", state="registered") == 4

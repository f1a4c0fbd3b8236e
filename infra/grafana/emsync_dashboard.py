"""The fleet's Grafana dashboard as code (grafanalib). Regenerate the provisioned JSON with

    .venv/bin/python infra/grafana/emsync_dashboard.py > infra/grafana/dashboards/emsync.json

(tests/infra/test_k8s_monitoring.py fails when the committed JSON is stale or names a metric the
exporter lacks). Grafana's current schema: data sources by uid (the provisioned `emsync-prometheus`),
one panel per alert rule, titled with the alert it shows.
"""

from __future__ import annotations

import json
from typing import Any

from grafanalib._gen import DashboardEncoder
from grafanalib.core import (
    Dashboard,
    GridPos,
    Stat,
    Table,
    Target,
    Template,
    Templating,
    TimeSeries,
)

DATASOURCE = "Prometheus"  # grafanalib's placeholder; to_json() swaps in the reference by uid
DATASOURCE_REF = {"type": "prometheus", "uid": "emsync-prometheus"}
SCHEMA_VERSION = 39  # Grafana 11 (infra/k8s_monitoring.py pins grafana/grafana:11.2.2)
CATALOG = 'catalog=~"$catalog"'
STAGE_RATE = "sum by (stage, le) (rate(emsync_stage_seconds_bucket[15m]))"


def _ts(title: str, exprs: dict[str, str], pos: tuple[int, int, int, int], unit: str = "short",
        description: str | None = None) -> TimeSeries:
    x, y, w, h = pos
    return TimeSeries(
        title=title,
        description=description,
        dataSource=DATASOURCE,
        targets=[
            Target(expr=expr, legendFormat=legend, refId=chr(65 + i)) for i, (legend, expr) in enumerate(exprs.items())
        ],
        unit=unit,
        gridPos=GridPos(h=h, w=w, x=x, y=y),
    )


def dashboard() -> Dashboard:
    return Dashboard(
        title="EMSYNC catalogs",
        uid="emsync-catalogs",
        description="Catalog progress, failures, queue, throughput, stage times, emotions and model versions",
        tags=["emsync"],
        timezone="utc",
        refresh="30s",
        templating=Templating(
            list=[
                Template(
                    name="catalog",
                    label="catalog",
                    query="label_values(emsync_catalog_videos, catalog)",
                    dataSource=DATASOURCE,
                    includeAll=True,
                    multi=True,
                    default="$__all",
                )
            ]
        ),
        panels=[
            _ts(
                "Videos by state",
                {"{{catalog}} {{state}}": f"sum by (catalog, state) (emsync_catalog_videos{{{CATALOG}}})"},
                (0, 0, 12, 8),
            ),
            _ts(
                "Work queue",
                {
                    "{{catalog}} {{state}}": f"sum by (catalog, state) (emsync_queue_depth{{{CATALOG}}})",
                    "{{catalog}} backfills running": (
                        f'sum by (catalog) (emsync_flow_runs_active{{flow="backfill",{CATALOG}}})'
                    ),
                },
                (12, 0, 12, 8),
                description="Alert EmsyncQueueStalled: claims held or a backfill running, and nothing finishing",
            ),
            _ts(
                "Throughput (soundtracks per minute)",
                {
                    "{{catalog}} succeeded": (
                        f"sum by (catalog) (rate(emsync_soundtracks_succeeded_total{{{CATALOG}}}[5m])) * 60"
                    ),
                    "{{catalog}} failed": (
                        f'sum by (catalog) (rate(emsync_failures_total{{stage="soundtrack",{CATALOG}}}[5m])) * 60'
                    ),
                },
                (0, 8, 12, 8),
            ),
            _ts(
                "Failures by stage and kind (per hour)",
                {
                    "{{catalog}} {{stage}} {{kind}}": (
                        f"sum by (catalog, stage, kind) (increase(emsync_failures_total{{{CATALOG}}}[1h]))"
                    )
                },
                (12, 8, 12, 8),
            ),
            _ts(
                "Seconds per stage (p50, p95)",
                {
                    "{{stage}} p50": f"histogram_quantile(0.5, {STAGE_RATE})",
                    "{{stage}} p95": f"histogram_quantile(0.95, {STAGE_RATE})",
                },
                (0, 16, 12, 8),
                unit="s",
            ),
            _ts(
                "Emotion distribution (videos by dominant emotion)",
                {"{{catalog}} {{emotion}}": f"sum by (catalog, emotion) (emsync_emotion_videos{{{CATALOG}}})"},
                (12, 16, 12, 8),
            ),
            _ts(
                "Triton inference requests per second",
                {"{{model}} {{version}}": "sum by (model, version) (rate(nv_inference_request_success[5m]))"},
                (0, 24, 12, 8),
                unit="reqps",
            ),
            Stat(
                title="Exporter scrape seconds",
                dataSource=DATASOURCE,
                targets=[Target(expr="max(emsync_exporter_scrape_seconds)", refId="A")],
                format="s",
                gridPos=GridPos(h=8, w=4, x=12, y=24),
            ),
            Table(
                title="Model versions",
                dataSource=DATASOURCE,
                targets=[
                    Target(expr="emsync_job_info", format="table", instant=True, refId="A"),
                    Target(expr="emsync_emotion_model_info", format="table", instant=True, refId="B"),
                    Target(expr="emsync_build_info", format="table", instant=True, refId="C"),
                ],
                gridPos=GridPos(h=8, w=8, x=16, y=24),
            ),
            _ts(
                "Soundtrack failure ratio, 15 min (EmsyncSoundtrackFailureRate pages above 10 %)",
                {"{{catalog}}": (
                    f'sum by (catalog) (increase(emsync_failures_total{{stage="soundtrack",{CATALOG}}}[15m]))'
                    f' / clamp_min(sum by (catalog) (increase(emsync_failures_total{{stage="soundtrack",{CATALOG}}}'
                    f'[15m])) + sum by (catalog) (increase(emsync_soundtracks_succeeded_total{{{CATALOG}}}[15m])), 1)'
                )},
                (0, 32, 12, 8),
                unit="percentunit",
            ),
            _ts(
                "Ingest and scoring failures, 15 min (EmsyncStageFailures)",
                {"{{catalog}} {{stage}}": (
                    f'sum by (catalog, stage) (increase(emsync_failures_total{{stage!="soundtrack",{CATALOG}}}[15m]))'
                )},
                (12, 32, 12, 8),
            ),
            _ts(
                "Failed videos outstanding, and quarantined (EmsyncFailedVideosOutstanding)",
                {
                    "{{catalog}} {{stage}}": f"sum by (catalog, stage) (emsync_failed_videos{{{CATALOG}}})",
                    "{{catalog}} quarantined": f"sum by (catalog) (emsync_quarantined_videos{{{CATALOG}}})",
                },
                (0, 40, 12, 8),
            ),
            _ts(
                "Failed or crashed flow runs, 15 min (EmsyncFlowRunFailed)",
                {"{{flow}} {{catalog}}": (
                    "sum by (flow, catalog) "
                    f'(increase(emsync_flow_runs_total{{state=~"failed|abandoned",{CATALOG}}}[15m]))'
                )},
                (12, 40, 12, 8),
            ),
            _ts(
                "Scrape targets up (EmsyncTritonDown, EmsyncExporterDown)",
                {"{{job}} {{instance}}": 'up{job=~"emsync|triton"}'},
                (0, 48, 12, 8),
            ),
            _ts(
                "Hours since the last score-catalog run (EmsyncScheduledScoringMissed at 26 h)",
                {"{{catalog}}": (
                    "(time() - max by (catalog) "
                    f'(emsync_flow_run_last_start_timestamp_seconds{{flow="score-catalog",{CATALOG}}})) / 3600'
                )},
                (12, 48, 12, 8),
                unit="h",
            ),
        ],
    ).auto_panel_ids()


def _by_uid(node: Any) -> Any:  # noqa: ANN401 - any JSON value
    """Every data source reference (panels, targets, variables) as Grafana's {type, uid} object."""
    if isinstance(node, dict):
        return {k: DATASOURCE_REF if k == "datasource" else _by_uid(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_by_uid(v) for v in node]
    return node


def to_json() -> str:
    data = json.loads(json.dumps(dashboard().to_json_data(), cls=DashboardEncoder))
    data = _by_uid(data)
    data["schemaVersion"] = SCHEMA_VERSION
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(to_json(), end="")

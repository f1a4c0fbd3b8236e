"""`emsync dashboard`: one web page over the metadata database for a machine with no Grafana.

Server-rendered HTML (tables readable without JavaScript, bars drawn with CSS and inline SVG), reloaded
by a meta refresh. `/api/summary` returns the same numbers as JSON.
"""

from __future__ import annotations

import html
import statistics
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from db.models import utcnow
from flows.catalog.pinning import labeled
from flows.ops import queries

STAGE_WINDOW = timedelta(days=7)


def summary(url: str) -> dict[str, Any]:
    """Everything the page shows, as plain data."""
    catalogs = [
        {**asdict(c), "last_run": f"{c.last_run:%Y-%m-%d %H:%M:%S} UTC" if c.last_run else None}
        for c in queries.catalog_status(url)
    ]
    stage_samples: dict[str, list[float]] = {}
    for _, _, timings in queries.finished_runs_since(url, utcnow() - STAGE_WINDOW):
        for stage, value in timings.items():
            if isinstance(value, int | float):
                stage_samples.setdefault(stage, []).append(float(value))
    stages = {
        stage: {
            "runs": len(values),
            "mean_s": statistics.fmean(values),
            "median_s": statistics.median(values),
            "max_s": max(values),
        }
        for stage, values in stage_samples.items()
    }
    emotions: dict[str, dict[str, int]] = {}
    for catalog, _model, _version, emotion, n in queries.emotions_per_catalog(url):
        per = emotions.setdefault(catalog, {})
        per[emotion] = per.get(emotion, 0) + n
    runs = queries.runs_by_status(url)
    jobs = queries.job_versions(url, {job for _, job, _, _ in runs if job})
    return {
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "catalogs": catalogs,
        "queue": [asdict(q) for q in queries.queue_depth(url)],
        "failures": [
            {"at": at.isoformat(timespec="seconds"), "catalog": c, "stage": st, "kind": k, "subject": sub, "reason": r}
            for at, c, st, k, sub, r in queries.recent_failures(url)
        ],
        "throughput": [
            {"hour": hour.isoformat(timespec="minutes"), "succeeded": ok, "failed": bad}
            for hour, ok, bad in queries.throughput(url)
        ],
        "stages": stages,
        "emotions": emotions,
        "models": {
            "soundtrack_jobs": jobs,
            "emotion": [{"model": m, "version": v, "videos": n} for m, v, n in queries.emotion_models(url)],
        },
    }


def _e(value: Any) -> str:  # noqa: ANN401
    return html.escape(str(value))


def _bar(part: int, whole: int, colour: str) -> str:
    percent = 100.0 * part / whole if whole else 0.0
    return (
        f'<div class="bar" title="{percent:.0f}%"><div style="width:{percent:.1f}%;background:{colour}"></div></div>'
        f"<span>{part} / {whole} ({percent:.0f}%)</span>"
    )


def _table(headers: list[str], rows: list[list[str]], cls: str, empty: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not rows:
        body = f'<tr><td colspan="{len(headers)}">{_e(empty)}</td></tr>'
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _throughput_svg(points: list[dict[str, Any]]) -> str:
    if not points:
        return ""
    top = max(p["succeeded"] + p["failed"] for p in points) or 1
    width, height, gap = 24, 80, 4
    bars = []
    for i, p in enumerate(points):
        x = i * (width + gap)
        ok_h = height * p["succeeded"] / top
        bad_h = height * p["failed"] / top
        bars.append(
            f'<rect x="{x}" y="{height - ok_h:.1f}" width="{width}" height="{ok_h:.1f}" fill="#2e7d32"/>'
            f'<rect x="{x}" y="{height - ok_h - bad_h:.1f}" width="{width}" height="{bad_h:.1f}" fill="#c62828"/>'
        )
    total_w = len(points) * (width + gap)
    return (
        f'<svg role="img" aria-label="runs per hour" width="{total_w}" height="{height}" '
        f'viewBox="0 0 {total_w} {height}">{"".join(bars)}</svg>'
    )


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;
vertical-align:top}th{background:#f3f3f3}.bar{display:inline-block;width:120px;height:.8rem;background:#eee;
margin-right:.4rem;vertical-align:middle}.bar div{height:100%}td.num{text-align:right}.reason{max-width:48rem}
"""


def render(data: dict[str, Any], refresh_s: int) -> str:
    catalogs = [
        [
            _e(c["name"]),
            f'<span class="num" data-videos>{c["videos"]}</span>',
            _bar(c["scored"], c["videos"], "#1565c0"),
            _bar(c["soundtracked"], c["videos"], "#2e7d32"),
            f'<span data-failed>{c["failed"]}</span>',
            f'<span data-quarantined>{c["quarantined"]}</span>',
            str(c["rejected"]),
            _e(f'{c["last_run"]} ({c["last_state"]})' if c["last_run"] else "never"),
            "<br>".join(f'<span data-music="{_e(label)}">{_e(label)}</span>: {_bar(n, c["videos"], "#00838f")}'
                        for label, n in c["soundtracked_by_music"].items()) or "-",
            _e(c["music_model"] or "(not yet backfilled)"),
        ]
        for c in data["catalogs"]
    ]
    queue = [
        [_e(q["catalog"]), _e(q["job"]), str(q["pending"]), str(q["claimed"]), str(q["leased"])] for q in data["queue"]
    ]
    failures = [
        [_e(f["at"]), _e(f["catalog"]), _e(f["stage"]), _e(f["kind"]), _e(f["subject"]),
         f'<span class="reason">{_e(f["reason"])}</span>']
        for f in data["failures"]
    ]
    throughput = [[_e(p["hour"]), str(p["succeeded"]), str(p["failed"])] for p in data["throughput"]]
    stages = [
        [_e(s), str(v["runs"]), f'{v["mean_s"]:.2f}', f'{v["median_s"]:.2f}', f'{v["max_s"]:.2f}']
        for s, v in data["stages"].items()
    ]
    emotion_rows = []
    for catalog, counts in sorted(data["emotions"].items()):
        total = sum(counts.values())
        for emotion, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            emotion_rows.append([_e(catalog), _e(emotion), _bar(n, total, "#6a1b9a")])
    models = [
        ["soundtrack job " + _e(job), _e(", ".join(f"{k}={v}" for k, v in sorted(labeled(versions).items())))]
        for job, versions in sorted(data["models"]["soundtrack_jobs"].items())
    ] + [
        [f'emotion {_e(m["model"])}', _e(f'version {m["version"]}, {m["videos"]} videos scored')]
        for m in data["models"]["emotion"]
    ]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{refresh_s}">
<title>EMSYNC catalogs</title><style>{STYLE}</style></head><body>
<h1>EMSYNC catalogs</h1><p>generated {_e(data["generated_at"])}; reloads every {refresh_s} s</p>
<h2>Catalogs</h2>
{_table(["catalog", "videos", "scored", "soundtracked", "failed", "quarantined", "rejected rows", "last run",
         "soundtracked by music model", "backfills use"], catalogs,
        "catalogs", "no catalogs yet")}
<h2>Work queue</h2>
{_table(["catalog", "job", "pending", "claimed", "leased"], queue, "queue", "nothing queued")}
<h2>Failures (latest 50)</h2>
{_table(["when", "catalog", "stage", "kind", "subject", "reason"], failures, "failures", "no failures")}
<h2>Throughput (soundtrack runs per hour, last 24 h)</h2>
{_throughput_svg(data["throughput"])}
{_table(["hour (UTC)", "succeeded", "failed"], throughput, "throughput", "no runs finished in the last 24 h")}
<h2>Time per stage (runs finished in the last 7 days, seconds)</h2>
{_table(["stage", "runs", "mean", "median", "max"], stages, "stages", "no finished runs")}
<h2>Emotion distribution (dominant overall emotion per video)</h2>
{_table(["catalog", "emotion", "videos"], emotion_rows, "emotions", "no scored videos")}
<h2>Model versions</h2>
{_table(["model", "versions"], models, "models", "no models have run yet")}
</body></html>"""


def create_app(url: str, refresh_s: int = 15) -> Any:  # noqa: ANN401 - a FastAPI app
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, JSONResponse

    from db.session import ensure_schema

    ensure_schema(url)  # a fresh database shows as empty, and a broken URL fails here, not per page load
    app = FastAPI(title="EMSYNC dashboard", docs_url=None, redoc_url=None)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return render(summary(url), refresh_s)

    @app.get("/api/summary")
    def api() -> JSONResponse:
        return JSONResponse(summary(url), headers={"Cache-Control": "no-store"})

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app

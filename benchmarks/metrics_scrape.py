"""Exporter scrape time with 100,000 videos in PostgreSQL, and which plan each scrape query gets.

    python -m benchmarks.metrics_scrape [--videos 100000] [--catalogs 10] [--database-url URL]

A fresh PostgreSQL database (on $EMSYNC_TEST_POSTGRES_URL's server, or `--database-url`'s, or one that
infra/postgres.sh starts) is filled in SQL: N videos spread over the catalogs, an overall emotion
prediction for 90 % of them, one soundtrack run each (70 % succeeded, 5 % failed, 20 % pending, 5 %
running; finished ones spread over the last day, with stage timings), a failure line per failed run,
and a flow run per catalog and day for a month. Then VACUUM ANALYZE (as autovacuum would) and:
- the first scrape (it also feeds the stage histograms from up to 50,000 runs finished in the last 24 h,
  the rest on the next scrape, and computes the whole-catalog aggregates: scored videos, emotions);
- the median of 10 later scrapes (what Prometheus sees every interval; the aggregates are cached for
  EMSYNC_METRICS_AGGREGATE_TTL_S, 60 s by default);
- the two aggregates alone, cold (what a scrape costs once per TTL on top of the median);
- EXPLAIN of every statement a scrape sends, listing sequential scans of the large tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
LARGE = {"videos", "catalog_videos", "emotion_predictions", "generation_runs", "failures"}

FILL = """
INSERT INTO catalogs (name, created_at) SELECT 'catalog-' || c, now() FROM generate_series(1, :catalogs) c;
INSERT INTO videos (content_hash, source_uri, created_at)
  SELECT md5(i::text) || md5((-i)::text), '/videos/' || i || '.mp4', now() FROM generate_series(1, :videos) i;
INSERT INTO catalog_videos (catalog_id, video_id, source_uri, added_at)
  SELECT 1 + (v.id % :catalogs), v.id, v.source_uri, now() FROM videos v;
INSERT INTO emotion_predictions (video_id, model_name, model_version, detector, scene_index, probs, valence,
                                 arousal, created_at)
  SELECT v.id, 'fer-mini', '1', 'content-27', -1,
         jsonb_build_object('anger', random(), 'disgust', random(), 'fear', random(), 'joy', random(),
                            'sadness', random(), 'surprise', random()),
         random() * 2 - 1, random() * 2 - 1, now()
  FROM videos v WHERE v.id % 10 <> 0;
INSERT INTO generation_runs (run_key, job_fp, video_id, catalog_id, source_uri, params, model_versions, status,
                             error_kind, attempts, timings, created_at, finished_at, lease_owner, lease_expires_at)
  SELECT md5('run' || v.id), CASE WHEN v.id % 3 = 0 THEN 'job-b' ELSE 'job-a' END, v.id, 1 + (v.id % :catalogs),
         v.source_uri, '{}'::jsonb,
         CASE WHEN v.id % 3 = 0 THEN '{"cuts": "content-27", "emotion": "1", "music": "b"}'::jsonb
              ELSE '{"cuts": "content-27", "emotion": "1", "music": "a"}'::jsonb END,
         s.status, CASE WHEN s.status = 'failed' THEN 'input' END, 1,
         CASE WHEN s.status IN ('succeeded', 'failed') THEN jsonb_build_object(
              'probe', random(), 'cuts', 2 * random(), 'emotion', 10 * random(), 'music', 20 * random(),
              'render', 5 * random(), 'mux', random(), 'store', random()) END,
         now(),
         CASE WHEN s.status IN ('succeeded', 'failed') THEN now() - random() * interval '1 day' END,
         CASE WHEN s.status = 'running' THEN 'bench:1:x' END,
         CASE WHEN s.status = 'running' THEN now() + interval '5 minutes' END
  FROM videos v, LATERAL (SELECT CASE WHEN v.id % 20 < 14 THEN 'succeeded' WHEN v.id % 20 = 14 THEN 'failed'
                                      WHEN v.id % 20 = 15 THEN 'running' ELSE 'pending' END AS status) s;
INSERT INTO failures (stage, subject, reason, kind, catalog_id, video_id, run_id, created_at)
  SELECT 'soundtrack', r.source_uri, 'content changed since it was registered', 'input', r.catalog_id, r.video_id,
         r.id, r.finished_at FROM generation_runs r WHERE r.status = 'failed';
INSERT INTO flow_runs (prefect_flow_run_id, flow_name, catalog_id, parameters, state, started_at, finished_at)
  SELECT md5('flow' || c || '-' || d), CASE WHEN d % 2 = 0 THEN 'score-catalog' ELSE 'backfill' END, c, '{}'::jsonb,
         'completed', now() - d * interval '1 day', now() - d * interval '1 day' + interval '1 hour'
  FROM generate_series(1, :catalogs) c, generate_series(0, 30) d;
"""


def _server_url(arg: str | None) -> str:
    if arg:
        return arg
    if os.environ.get("EMSYNC_TEST_POSTGRES_URL"):
        return os.environ["EMSYNC_TEST_POSTGRES_URL"]
    out = subprocess.run(["bash", str(REPO / "infra" / "postgres.sh"), "start"], check=True, capture_output=True,
                         text=True, timeout=300)
    return out.stdout.strip().splitlines()[-1]


def _plans(url: str, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Every scrape statement's plan: its node types, and any sequential scan of a large table."""
    from sqlalchemy import text

    from db.session import make_engine

    found = []
    with make_engine(url).connect() as conn:
        for statement, params in statements:
            plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).scalar_one()
            nodes: list[dict[str, Any]] = []
            stack = [plan[0]["Plan"]]
            while stack:
                node = stack.pop()
                nodes.append(node)
                stack.extend(node.get("Plans", []))
            seq = sorted({n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"} & LARGE)
            indexes = sorted({n["Index Name"] for n in nodes if "Index Name" in n})
            found.append({"sql": " ".join(statement.split())[:160], "indexes": indexes, "seq_scans_of_large": seq})
        conn.execute(text("SELECT 1"))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--catalogs", type=int, default=10)
    parser.add_argument("--database-url", help="a PostgreSQL server URL (a fresh database is created on it)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    import psycopg
    from prometheus_client import generate_latest
    from sqlalchemy import event, text
    from sqlalchemy.engine import make_url

    from db.session import dispose_engines, make_engine, upgrade
    from flows.ops.metrics import build_registry

    base = make_url(_server_url(args.database_url))
    name = f"bench_metrics_{uuid.uuid4().hex[:8]}"
    conninfo = {k: v for k, v in dict(host=base.host, port=base.port, user=base.username, password=base.password,
                                      dbname="postgres").items() if v is not None}
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)  # the ops indexes come from migration 0002
        engine = make_engine(url)
        started = time.perf_counter()
        with engine.begin() as conn:
            for statement in FILL.split(";\n"):
                if statement.strip():
                    conn.execute(text(statement), {"videos": args.videos, "catalogs": args.catalogs})
        fill_s = time.perf_counter() - started
        with psycopg.connect(**{**conninfo, "dbname": name}, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")

        statements: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: bool) -> None:  # noqa: ANN401
            statements.append((statement, params))

        registry = build_registry(url, 24.0, aggregate_ttl_s=3600.0)  # as served: aggregates cached between
        t0 = time.perf_counter()
        first = generate_latest(registry)
        first_s = time.perf_counter() - t0
        generate_latest(registry)  # the histograms read at most 50,000 finished runs per scrape: catch up
        event.listen(engine, "before_cursor_execute", capture)
        times = []
        for _ in range(10):
            t0 = time.perf_counter()
            body = generate_latest(registry)
            times.append(time.perf_counter() - t0)
        event.remove(engine, "before_cursor_execute", capture)
        from flows.ops import queries

        t0 = time.perf_counter()
        queries.scored_per_catalog(url)
        queries.emotions_per_catalog(url)
        aggregates_s = time.perf_counter() - t0
        event.listen(engine, "before_cursor_execute", capture)
        queries.scored_per_catalog(url)
        queries.emotions_per_catalog(url)
        event.remove(engine, "before_cursor_execute", capture)
        unique: dict[str, tuple[str, Any]] = {}
        for statement, params in statements:
            unique.setdefault(statement, (statement, params))
        plans = _plans(url, list(unique.values()))
        dispose_engines()
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            with psycopg.connect(**conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    load = os.getloadavg()
    result = {
        "videos": args.videos,
        "catalogs": args.catalogs,
        "fill_s": round(fill_s, 1),
        "first_scrape_s": round(first_s, 3),
        "scrape_s_median": round(statistics.median(times), 3),
        "scrape_s_max": round(max(times), 3),
        "aggregates_cold_s": round(aggregates_s, 3),
        "scrape_bytes": len(body),
        "first_scrape_bytes": len(first),
        "statements_per_scrape": (len(statements) - 4) // 10,
        "plans": plans,
        "load_average": [round(x, 2) for x in load],
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    print(f"{'videos':>10} {'first scrape':>13} {'scrape (median of 10)':>22} {'max':>7} {'aggregates':>11}  load")
    print(f"{args.videos:>10} {first_s:>12.3f}s {statistics.median(times):>21.3f}s {max(times):>6.3f}s "
          f"{aggregates_s:>10.3f}s  {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for plan in plans:
        seq = plan["seq_scans_of_large"]
        flag = f"SEQ SCAN {seq}" if seq else "no seq scan of a large table"
        print(f"  {flag:<40} {', '.join(plan['indexes'])[:90]}\n      {plan['sql'][:120]}")
    out = REPO / "benchmarks" / "results" / "metrics_scrape.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

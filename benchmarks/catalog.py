"""Catalog backfill throughput: videos per hour for a catalog of short clips, with 1 and 2 workers.

    python benchmarks/catalog.py [--videos 20] [--workers 1 2] [--database-url URL]

Each configuration gets a fresh data dir (database, objects, feature cache) and the same clips; the
catalog is ingested first (not timed), then N worker processes each run the `backfill` flow on it at
concurrency 1, claiming videos from the shared database exactly as a fleet of Prefect workers does.
Reported: wall-clock videos/hour (processes started -> all exited, model loading included) and
steady-state videos/hour (first claim -> last finished run, from the database).
Needs a Prefect API: uses $PREFECT_API_URL, or starts one with infra/prefect.sh for the run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORKER = "import sys; from flows.catalog.flows import backfill; r = backfill(sys.argv[1]); print(r['processed'])"


def run_config(clips: list[Path], workers: int, database_url: str | None) -> dict:
    from sqlalchemy import func, select

    from db.models import GenerationRun
    from db.session import dispose_engines, session_scope
    from flows.catalog.flows import ingest_catalog
    from flows.settings import get_settings

    data_dir = Path(tempfile.mkdtemp(prefix=f"emsync-bench-{workers}w-"))
    env = {
        **os.environ,
        "EMSYNC_DATA_DIR": str(data_dir),
        "EMSYNC_CONCURRENCY": "1",
        "EMSYNC_ALLOWED_ROOTS": json.dumps([str(clips[0].parent)]),
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    if database_url:
        env["EMSYNC_DATABASE_URL"] = database_url
    os.environ.update(env)
    get_settings.cache_clear()
    dispose_engines()
    manifest = data_dir / f"bench{workers}.csv"
    manifest.write_text("uri\n" + "".join(f"{c}\n" for c in clips))
    name = f"bench-{workers}w-{int(time.time())}"
    ingest_catalog(str(manifest), name)

    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, name],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=open(data_dir / f"worker-{i}.log", "w"),  # noqa: SIM115 - closed with the process
            text=True,
        )
        for i in range(workers)
    ]
    outputs = [p.communicate()[0].strip().splitlines() for p in procs]
    processed = [int(o[-1]) if o and o[-1].isdigit() else 0 for o in outputs]
    for i, p in enumerate(procs):
        if p.returncode != 0:
            tail = (data_dir / f"worker-{i}.log").read_text()[-2000:]
            print(f"worker {i} exited with {p.returncode}:\n{tail}", file=sys.stderr)
    wall = time.perf_counter() - start
    with session_scope(get_settings().resolved_database_url) as session:
        first, last, done = session.execute(
            select(func.min(GenerationRun.started_at), func.max(GenerationRun.finished_at), func.count()).where(
                GenerationRun.status == "succeeded"
            )
        ).one()
    steady = (last - first).total_seconds() if first and last else float("nan")
    return {
        "workers": workers,
        "videos": len(clips),
        "succeeded": int(done),
        "per_worker": processed,
        "wall_s": round(wall, 1),
        "videos_per_hour_wall": round(len(clips) / wall * 3600, 1),
        "steady_s": round(steady, 1),
        "videos_per_hour_steady": round(len(clips) / steady * 3600, 1) if steady > 0 else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: embedded SQLite per run)")
    parser.add_argument("--clips-dir", type=Path, default=Path(tempfile.gettempdir()) / "emsync-bench-clips")
    args = parser.parse_args()

    from tests.platform.clips import make_clips

    clips = make_clips(args.clips_dir, args.videos)
    started_server = False
    if not os.environ.get("PREFECT_API_URL"):
        url = (
            subprocess.run(
                ["bash", str(REPO / "infra" / "prefect.sh"), "start"], check=True, text=True, capture_output=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        os.environ["PREFECT_API_URL"] = url
        started_server = True
    try:
        results = [run_config(clips, w, args.database_url) for w in args.workers]
    finally:
        if started_server:
            subprocess.run(["bash", str(REPO / "infra" / "prefect.sh"), "stop"], check=False, capture_output=True)
    print(f"catalog backfill, {args.videos} clips of ~3.2 s at 64x48, {os.cpu_count()} CPUs ({platform.machine()})")
    print(f"{'workers':>7} {'wall s':>8} {'videos/h (wall)':>16} {'steady s':>9} {'videos/h (steady)':>18}")
    for r in results:
        print(
            f"{r['workers']:>7} {r['wall_s']:>8} {r['videos_per_hour_wall']:>16} {r['steady_s']:>9} "
            f"{r['videos_per_hour_steady']!s:>18}"
        )
    print(json.dumps(results))
    return 0 if all(r["succeeded"] == r["videos"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Catalog backfill throughput: videos per hour for a catalog of clips, with 1 and 2 workers.

    python -m benchmarks.catalog [--videos 20] [--workers 1 2] [--size 320x180] [--fps 25] [--stretch 1]
                                 [--threads N] [--database-url URL]

Each configuration gets a fresh data dir (database, objects, feature cache) and the same clips; the
catalog is ingested first (not timed), then N worker processes each run the `backfill` flow on it at
concurrency 1, claiming videos from the shared database exactly as a fleet of Prefect workers does.
Each worker is told the machine runs N of them (EMSYNC_HOST_WORKERS), so its thread budget is its share.
Reported per configuration: CPU seconds of all its processes and the cores they kept busy (CPU /
wall: one worker that already keeps 1.5 of 2 cores busy leaves a second worker 0.5), wall-clock
videos/hour (processes started -> all exited, imports and model loading included), steady-state
videos/hour (first claim -> last finished run, from the database), and per worker: videos,
videos/hour over its own lifetime, seconds in jobs (claim -> finish: claims no longer run ahead of
the work) and the orchestration share (process lifetime not spent in a job: imports, model
loading, Prefect, claims). The header says what ran: clip count, length, size, database, object store.
Needs a Prefect API: uses $PREFECT_API_URL, or starts one with infra/prefect.sh for the run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Prints when the interpreter started working, when the imports were done, and what the backfill did.
WORKER = (
    "import json, sys, time; t0 = time.time()\n"
    "from flows.catalog.flows import backfill\n"
    "t1 = time.time(); r = backfill(sys.argv[1])\n"
    "print(json.dumps({'processed': r['processed'], 'link': r['flow_link'], 'start': t0, 'imported': t1,\n"
    "                  'end': time.time()}))\n"
)


def fresh_database(base_url: str, tag: str) -> str:
    """A new, empty database on the PostgreSQL server of `base_url`: runs must not see each other's rows."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = f"bench_{tag}_{int(time.time())}"
    conninfo = dict(host=url.host, port=url.port, user=url.username, password=url.password, dbname="postgres")
    with psycopg.connect(**{k: v for k, v in conninfo.items() if v is not None}, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def children_cpu_s() -> float:
    """CPU seconds of every finished, reaped descendant (workers, their ffmpeg/FluidSynth runs and
    speech helpers, which each worker reaps before it exits)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_config(clips: list[Path], workers: int, database_url: str | None, threads: int | None = None) -> dict:
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
        "EMSYNC_HOST_WORKERS": str(workers),
        "EMSYNC_ALLOWED_ROOTS": json.dumps([str(clips[0].parent)]),
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    if threads is not None:
        env["EMSYNC_THREADS"] = str(threads)
    if database_url:
        env["EMSYNC_DATABASE_URL"] = (fresh_database(database_url, f"{workers}w")
                                      if database_url.startswith("postgresql") else database_url)
    if os.environ.get("EMSYNC_OBJECT_STORE") == "s3":  # a bucket of its own: no objects from an earlier run
        env["EMSYNC_S3_BUCKET"] = f"emsync-bench-{workers}w-{int(time.time())}"
    os.environ.update(env)
    get_settings.cache_clear()
    dispose_engines()
    manifest = data_dir / f"bench{workers}.csv"
    manifest.write_text("uri\n" + "".join(f"{c}\n" for c in clips))
    name = f"bench-{workers}w-{int(time.time())}"
    ingest_catalog(str(manifest), name)

    start_epoch, start, cpu_before = time.time(), time.perf_counter(), children_cpu_s()
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
    wall = time.perf_counter() - start
    cpu = children_cpu_s() - cpu_before
    reports: list[dict] = []
    for i, (p, out) in enumerate(zip(procs, outputs, strict=True)):
        if p.returncode != 0 or not out:
            tail = (data_dir / f"worker-{i}.log").read_text()[-2000:]
            print(f"worker {i} exited with {p.returncode}:\n{tail}", file=sys.stderr)
            reports.append({"processed": 0, "link": None, "start": start_epoch, "imported": start_epoch,
                            "end": time.time()})
        else:
            reports.append(json.loads(out[-1]))
    with session_scope(get_settings().store.resolved_database_url) as session:
        first, last, done = session.execute(
            select(func.min(GenerationRun.started_at), func.max(GenerationRun.finished_at), func.count()).where(
                GenerationRun.status == "succeeded"
            )
        ).one()
        # Each worker's backfill is its own flow run: its runs carry that link.
        spans = session.execute(
            select(GenerationRun.flow_run_id, GenerationRun.started_at, GenerationRun.finished_at).where(
                GenerationRun.status == "succeeded"
            )
        ).all()
    job_s: dict[int | None, float] = {}
    for link, began, ended in spans:
        job_s[link] = job_s.get(link, 0.0) + (ended - began).total_seconds()
    steady = (last - first).total_seconds() if first and last else float("nan")
    per_worker = []
    for r in reports:
        life = r["end"] - start_epoch  # from process launch: interpreter start-up counts as overhead
        in_jobs = job_s.get(r["link"], 0.0)
        per_worker.append({
            "videos": r["processed"],
            "life_s": round(life, 1),
            "imports_s": round(r["imported"] - start_epoch, 1),
            "videos_per_hour": round(r["processed"] / life * 3600, 1) if life > 0 else None,
            "job_s": round(in_jobs, 1),
            "orchestration_share": round(1 - in_jobs / life, 3) if life > 0 else None,
        })
    return {
        "workers": workers,
        "threads_per_job": threads,
        "videos": len(clips),
        "cpu_s": round(cpu, 1),
        "cores_busy": round(cpu / wall, 2) if wall > 0 else None,
        "succeeded": int(done),
        "per_worker": per_worker,
        "wall_s": round(wall, 1),
        "videos_per_hour_wall": round(len(clips) / wall * 3600, 1),
        "steady_s": round(steady, 1),
        "videos_per_hour_steady": round(len(clips) / steady * 3600, 1) if steady > 0 else None,
        "orchestration_share": round(1 - sum(job_s.values()) / (workers * wall), 3) if wall > 0 else None,
    }


def describe(clips: list[Path], database_url: str | None) -> str:
    import av

    lengths, sizes = [], set()
    for clip in clips:
        with av.open(str(clip)) as container:
            lengths.append(container.duration / av.time_base)
            stream = container.streams.video[0]
            sizes.add(f"{stream.codec_context.width}x{stream.codec_context.height}@{float(stream.average_rate):g}fps")
    from flows.settings import get_settings

    settings = get_settings()
    db = "PostgreSQL" if database_url and database_url.startswith("postgresql") else "SQLite"
    store = f"S3 ({settings.store.s3_endpoint})" if settings.store.object_store == "s3" else "local folder"
    return (f"catalog backfill, {len(clips)} clips of {min(lengths):.1f}-{max(lengths):.1f} s "
            f"(total {sum(lengths):.0f} s) at {', '.join(sorted(sizes))}; {db}, objects in {store}, "
            f"models {settings.models.model_backend}, Prefect API {os.environ.get('PREFECT_API_URL')}; "
            f"{os.cpu_count()} CPUs ({platform.machine()}), load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: embedded SQLite per run)")
    parser.add_argument("--clips-dir", type=Path, default=Path(tempfile.gettempdir()) / "emsync-bench-clips")
    parser.add_argument("--size", default="64x48", help="clip frame size WxH")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--stretch", type=float, default=1.0, help="scale clip length (1.0: ~3.2 s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="EMSYNC_THREADS for every worker (default: each worker's share of the cores)")
    args = parser.parse_args()

    from tests.clips import make_clips

    width, height = (int(v) for v in args.size.lower().split("x"))
    clips = make_clips(args.clips_dir, args.videos, width=width, height=height, fps=args.fps, stretch=args.stretch)
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
        results = [run_config(clips, w, args.database_url, args.threads) for w in args.workers]
    finally:
        if started_server:
            subprocess.run(["bash", str(REPO / "infra" / "prefect.sh"), "stop"], check=False, capture_output=True)
    print(describe(clips, args.database_url))
    print(f"thread budget per job: {args.threads or 'each worker its share of the cores (EMSYNC_HOST_WORKERS)'}")
    print(f"{'workers':>7} {'wall s':>8} {'videos/h (wall)':>16} {'steady s':>9} {'videos/h (steady)':>18} "
          f"{'orchestration':>13} {'cores busy':>10}")
    for r in results:
        print(
            f"{r['workers']:>7} {r['wall_s']:>8} {r['videos_per_hour_wall']:>16} {r['steady_s']:>9} "
            f"{r['videos_per_hour_steady']!s:>18} {r['orchestration_share']!s:>13} {r['cores_busy']!s:>10}"
        )
        for i, w in enumerate(r["per_worker"]):
            print(f"{'':>7}   worker {i}: {w['videos']} videos in {w['life_s']} s ({w['videos_per_hour']} videos/h), "
                  f"imports {w['imports_s']} s, in jobs {w['job_s']} s, orchestration {w['orchestration_share']}")
    if len(results) > 1 and results[0]["workers"] == 1:
        for r in results[1:]:
            print(f"{r['workers']} workers / 1: {r['videos_per_hour_wall'] / results[0]['videos_per_hour_wall']:.2f}x "
                  f"(wall), {(r['videos_per_hour_steady'] or 0) / (results[0]['videos_per_hour_steady'] or 1):.2f}x "
                  "(steady)")
    print(json.dumps(results))
    return 0 if all(r["succeeded"] == r["videos"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

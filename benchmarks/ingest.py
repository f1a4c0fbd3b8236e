"""Catalog ingest throughput: valid rows per second for a manifest of local files, and where the time goes.

    python -m benchmarks.ingest [--rows 10000 100000] [--batch-size 50] [--concurrency 2]
                                [--postgres-url postgresql+psycopg://...] [--reingest]

For each row count: that many distinct small videos (one 1 s 64x36 H.264 clip, each copy made distinct by
a few trailing bytes, which the MP4 demuxer ignores), a CSV manifest naming them, a fresh data dir and a
fresh database (SQLite; and a new database on the given PostgreSQL server with --postgres-url), and one
real `emsync catalog ingest` process against the Prefect API ($PREFECT_API_URL). Reported per database:
wall seconds (process start to exit, imports included), rows/s, peak RSS of the CLI process, with
--reingest the same for a second ingest of the same manifest (nothing new: every row's probe is reused),
and the per-row cost of each step measured in-process on a sample of rows (resolve + allow-list, SHA-256,
probe, register in one transaction per batch). Writes benchmarks/results/ingest.json.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
EMSYNC = str(Path(sys.executable).with_name("emsync"))


def make_files(folder: Path, rows: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / "base.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=64x36:rate=10:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(base)],
                   check=True)
    data = base.read_bytes()
    lines = ["uri"]
    for i in range(rows):
        name = f"v{i:07d}.mp4"
        (folder / name).write_bytes(data + f"#{i}".encode())
        lines.append(name)
    manifest = folder / "bench.csv"
    manifest.write_text("\n".join(lines) + "\n")
    base.unlink()
    return manifest


@contextmanager
def fresh_database(postgres_url: str | None) -> Iterator[str | None]:
    """None (the data dir's SQLite), or the URL of a new, empty database on that PostgreSQL server."""
    if postgres_url is None:
        yield None
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"ingest_bench_{os.getpid()}_{time.monotonic_ns()}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def steps(folder: Path, sample: int, batch_size: int, database_url: str | None = None) -> dict[str, float]:
    """Milliseconds per row of each step, in this process, on `sample` rows of the manifest's files."""
    from db.session import upgrade
    from flows.catalog import queries
    from flows.catalog.manifest import resolve_source
    from flows.settings import load_settings
    from flows.soundtrack import probe_input
    from flows.storage.sources import materialize

    with tempfile.TemporaryDirectory() as data:
        settings = load_settings(data_dir=Path(data), database_url=database_url)
        url = settings.store.resolved_database_url
        upgrade(url, "head")
        catalog_id = queries.ensure_catalog(url, "steps")
        names = sorted(p.name for p in folder.glob("v*.mp4"))[:sample]
        spent = {"resolve": 0.0, "sha256": 0.0, "probe": 0.0, "register": 0.0}
        members = []
        for name in names:
            t0 = time.perf_counter()
            source = resolve_source(name, folder, [], [])
            t1 = time.perf_counter()
            local, digest = materialize(settings, source.uri, refresh=True)
            t2 = time.perf_counter()
            probe = probe_input(local, settings).to_dict()
            t3 = time.perf_counter()
            spent["resolve"] += t1 - t0
            spent["sha256"] += t2 - t1
            spent["probe"] += t3 - t2
            members.append(queries.Member(digest, source.uri, probe, None, {}))
        t0 = time.perf_counter()
        for i in range(0, len(members), batch_size):
            queries.add_members(url, catalog_id, members[i : i + batch_size])
        spent["register"] = time.perf_counter() - t0
    return {k: round(1000 * v / len(names), 3) for k, v in spent.items()}


def run_ingest(manifest: Path, batch_size: int, concurrency: int, database_url: str | None,
               reingest: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "EMSYNC_DATA_DIR": data, "EMSYNC_BATCH_SIZE": str(batch_size),
               "EMSYNC_CONCURRENCY": str(concurrency)}
        if database_url is not None:
            env["EMSYNC_DATABASE_URL"] = database_url
        subprocess.run([EMSYNC, "db", "upgrade"], env=env, check=True, capture_output=True)
        run = _timed_ingest(manifest, env)
        if reingest:  # the same manifest again: nothing new, every row's probe reused
            run.update({f"reingest_{k}": v for k, v in _timed_ingest(manifest, env).items()})
    return run


def _timed_ingest(manifest: Path, env: dict[str, str]) -> dict[str, float]:
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", EMSYNC, "-q", "catalog", "ingest", "--json",
                           str(manifest)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    print(f"ingest of {manifest}: {wall:.1f} s, exit {done.returncode}", file=sys.stderr, flush=True)
    if done.returncode != 0:
        raise SystemExit(f"ingest failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    registered = summary.get("counts", summary)["registered"]
    return {"wall_s": round(wall, 1), "registered": registered, "rows_per_s": round(registered / wall, 1),
            "peak_rss_mb": round(peak_kb / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--sample", type=int, default=500, help="rows timed step by step")
    parser.add_argument("--postgres-url", help="also measure against a fresh database on this PostgreSQL server")
    parser.add_argument("--reingest", action="store_true", help="also time a second ingest of the same manifest")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ingest.json")
    args = parser.parse_args()
    results = []
    databases = [None] + ([args.postgres_url] if args.postgres_url else [])
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="emsync-ingest-bench-") as tmp:
            manifest = make_files(Path(tmp), rows)
            for server in databases:
                with fresh_database(server) as url:
                    load_before = os.getloadavg()[0]
                    run = {"rows": rows, "database": "postgresql" if url else "sqlite",
                           **run_ingest(manifest, args.batch_size, args.concurrency, url, args.reingest)}
                    # a shared machine: say how busy it was, before and after
                    run["load_1m"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
                with fresh_database(server) as url:
                    run["steps_ms_per_row"] = steps(Path(tmp), min(args.sample, rows), args.batch_size, url)
                print(json.dumps(run), flush=True)
                results.append(run)
                record = {"benchmark": "catalog ingest of local files (CSV manifest, Prefect API)",
                          "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                          "batch_size": args.batch_size, "concurrency": args.concurrency, "results": results}
                args.out.write_text(json.dumps(record, indent=2) + "\n")  # after each run: a long run keeps the first


if __name__ == "__main__":
    main()

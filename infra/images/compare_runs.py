"""Compares two databases' soundtracks of one catalog: the same videos, the same model versions, parameters
and seeds, and bit-identical stored objects of the given kinds (by the SHA-256 each artifact row records;
`emsync catalog verify` checks the objects against those rows).

    python infra/images/compare_runs.py CATALOG URL_A URL_B [--kinds midi] [--expect N]

Exit 0 when every video of the catalog has a finished soundtrack in both and they agree; 1 otherwise,
one line per difference. Used by infra/smoke.sh (Triton in containers against in-process on the host).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy import create_engine, select

from db.models import SUCCEEDED, Artifact, Catalog, CatalogVideo, GenerationRun, Video


def soundtracks(url: str, catalog: str, kinds: list[str]) -> dict[str, dict[str, Any]]:
    """content hash -> {versions, params, seed, <kind>: sha256} of the catalog's finished runs."""
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            rows = db.execute(
                select(Video.content_hash, GenerationRun.model_versions, GenerationRun.params, GenerationRun.seed,
                       Artifact.kind, Artifact.sha256)
                .join(CatalogVideo, CatalogVideo.video_id == Video.id)
                .join(Catalog, Catalog.id == CatalogVideo.catalog_id)
                .join(GenerationRun, GenerationRun.video_id == Video.id)
                .join(Artifact, Artifact.run_id == GenerationRun.id)
                .where(Catalog.name == catalog, GenerationRun.status == SUCCEEDED, Artifact.kind.in_(kinds))
            ).all()
    finally:
        engine.dispose()
    out: dict[str, dict[str, Any]] = {}
    for content_hash, versions, params, seed, kind, sha in rows:
        entry = out.setdefault(content_hash, {"versions": versions, "params": params, "seed": seed})
        entry[kind] = sha
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("catalog")
    ap.add_argument("url_a")
    ap.add_argument("url_b")
    ap.add_argument("--kinds", nargs="+", default=["midi"])
    ap.add_argument("--expect", type=int, default=0, help="how many videos each side must have soundtracked")
    args = ap.parse_args(argv)
    a, b = (soundtracks(u, args.catalog, args.kinds) for u in (args.url_a, args.url_b))
    problems = [f"{side} has {len(runs)} soundtracked videos, expected {args.expect}"
                for side, runs in (("A", a), ("B", b)) if len(runs) < args.expect]
    problems += [f"{h[:12]}: only in {'A' if h in a else 'B'}" for h in sorted(set(a) ^ set(b))]
    for h in sorted(set(a) & set(b)):
        problems += [f"{h[:12]}: {field} differs: {a[h].get(field)!r} != {b[h].get(field)!r}"
                     for field in ("versions", "params", "seed", *args.kinds) if a[h].get(field) != b[h].get(field)]
    for p in problems:
        print(f"compare_runs: {p}", file=sys.stderr)
    if not problems:
        print(f"compare_runs: {len(a)} videos, {', '.join(args.kinds)} identical, same versions, parameters, seeds")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

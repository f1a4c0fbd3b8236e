"""Deployments: catalog scoring on a cron schedule, backfill and single-video jobs on demand.

Two ways to run them, same flows:
- `python -m flows.catalog.deploy serve` — one long-lived process that schedules and runs the deployments
  itself (`flow.serve`): the simplest setup for one machine. Its deployments are named with a `-serve`
  suffix, so they never overwrite (or get overwritten by) the work-pool deployments below;
- `prefect deploy --all` with `prefect.yaml` at the repository root — deployments on a work pool
  (`emsync`), run by as many `prefect worker start --pool emsync` processes as the fleet has; more
  workers means more videos in parallel, and the database claims keep them from doing one video twice.
  Their entrypoints are module paths, so any worker whose Python has emsync installed runs them.

Both refuse to create the scheduled scoring deployment without EMSYNC_SCORE_MANIFEST
(`python -m flows.catalog.deploy check-manifest`, which prefect.yaml runs as that deployment's build step).
"""

from __future__ import annotations

import sys
from pathlib import Path

from emsync_models.errors import InputError
from flows.ops.logs import configure_from_env
from flows.settings import get_settings

SERVE_SUFFIX = "-serve"
MANIFEST_VARIABLE = "EMSYNC_SCORE_MANIFEST"


def check_manifest(value: str | None) -> str:
    """The scheduled scoring's manifest, or InputError naming the variable that must hold it.

    A deployment created without one would fail every scheduled run; refusing at creation says so once."""
    from flows.catalog.manifest import MANIFEST_SUFFIXES

    manifest = (value or "").strip()
    if not manifest:
        raise InputError(MANIFEST_VARIABLE, "unset: the scheduled scoring needs the manifest it reads "
                         "(a local path or s3://bucket/key on the workers)")
    suffix = "." + manifest.rsplit(".", 1)[-1].lower() if "." in manifest.rsplit("/", 1)[-1] else ""
    if suffix not in MANIFEST_SUFFIXES:
        raise InputError(MANIFEST_VARIABLE, f"{manifest!r} is not a manifest; use one of "
                         f"{', '.join(sorted(MANIFEST_SUFFIXES))}")
    return manifest


def deployments() -> list:
    """The served deployments (names end in SERVE_SUFFIX). Each run also tags itself with its catalog
    (`catalog:NAME`) once it knows it; the scheduled scoring deployment carries its manifest's catalog tag
    up front, so the Prefect UI filters it by catalog. InputError without EMSYNC_SCORE_MANIFEST."""
    from flows.catalog.flows import backfill, score_catalog, soundtrack_video
    from flows.catalog.runlink import catalog_tag

    settings = get_settings()
    manifest = check_manifest(settings.batch.score_manifest)
    scoring_tags = ["emsync", "catalog", catalog_tag(Path(manifest.rsplit("/", 1)[-1]).stem)]
    return [
        score_catalog.to_deployment(
            name="score-catalog-nightly" + SERVE_SUFFIX,
            cron=settings.batch.score_cron,
            parameters={"manifest": manifest},
            description="Ingest the configured manifest and score every video not yet scored by the current models.",
            tags=scoring_tags,
        ),
        backfill.to_deployment(name="backfill" + SERVE_SUFFIX, tags=["emsync", "catalog"]),
        soundtrack_video.to_deployment(name="soundtrack-video" + SERVE_SUFFIX, tags=["emsync"]),
    ]


def main(argv: list[str]) -> int:
    if argv[1:] not in (["serve"], ["check-manifest"]):
        print("usage: python -m flows.catalog.deploy serve|check-manifest", file=sys.stderr)
        return 2
    settings = get_settings()
    try:
        manifest = check_manifest(settings.batch.score_manifest)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if argv[1] == "check-manifest":
        print(manifest)  # prefect.yaml's build step hands this to the deployment's parameters
        return 0
    # Before Prefect is imported: it reads its logging settings (level, our JSON formatter) then.
    configure_from_env()
    from prefect import serve

    if settings.ops.worker_metrics_port is not None:
        from flows.ops.metrics import serve as serve_metrics

        ops = settings.ops
        _, port = serve_metrics(settings.store.resolved_database_url, ops.metrics_host, ops.worker_metrics_port,
                                ops.metrics_lookback_h, ops.metrics_aggregate_ttl_s)
        print(f"metrics at http://{ops.metrics_host}:{port}/metrics", file=sys.stderr)
    serve(*deployments())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

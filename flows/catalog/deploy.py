"""Deployments: catalog scoring on a cron schedule, backfill and single-video jobs on demand.

Two ways to run them, same flows:
- `python -m flows.catalog.deploy serve` — one long-lived process that schedules and runs the deployments
  itself (`flow.serve`): the simplest setup for one machine;
- `prefect deploy --all` with `prefect.yaml` at the repository root — deployments on a work pool
  (`emsync`), run by as many `prefect worker start --pool emsync` processes as the fleet has; more
  workers means more videos in parallel, and the database claims keep them from doing one video twice.
"""

from __future__ import annotations

import sys
from pathlib import Path

from flows.ops.logs import configure_from_env
from flows.settings import get_settings


def deployments() -> list:
    """Each run also tags itself with its catalog (`catalog:NAME`) once it knows it; the scheduled scoring
    deployment carries its manifest's catalog tag up front, so the Prefect UI filters it by catalog."""
    from flows.catalog.flows import backfill, catalog_tag, score_catalog, soundtrack_video

    settings = get_settings()
    scoring_tags = ["emsync", "catalog"]
    if settings.batch.score_manifest:
        scoring_tags.append(catalog_tag(Path(settings.batch.score_manifest.rsplit("/", 1)[-1]).stem))
    return [
        score_catalog.to_deployment(
            name="score-catalog-nightly",
            cron=settings.batch.score_cron,
            parameters={"manifest": settings.batch.score_manifest} if settings.batch.score_manifest else {},
            description="Ingest the configured manifest and score every video not yet scored by the current models.",
            tags=scoring_tags,
        ),
        backfill.to_deployment(name="backfill", tags=["emsync", "catalog"]),
        soundtrack_video.to_deployment(name="soundtrack-video", tags=["emsync"]),
    ]


def main(argv: list[str]) -> int:
    if argv[1:] != ["serve"]:
        print("usage: python -m flows.catalog.deploy serve", file=sys.stderr)
        return 2
    # Before Prefect is imported: it reads its logging settings (level, our JSON formatter) then.
    configure_from_env()
    from prefect import serve

    settings = get_settings()
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

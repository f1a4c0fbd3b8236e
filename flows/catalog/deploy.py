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

from prefect import serve

from flows.catalog.flows import backfill, score_catalog, soundtrack_video
from flows.settings import get_settings


def deployments() -> list:
    settings = get_settings()
    return [
        score_catalog.to_deployment(
            name="score-catalog-nightly",
            cron=settings.score_cron,
            parameters={"manifest": settings.score_manifest} if settings.score_manifest else {},
            description="Ingest the configured manifest and score every video not yet scored by the current models.",
            tags=["emsync", "catalog"],
        ),
        backfill.to_deployment(name="backfill", tags=["emsync", "catalog"]),
        soundtrack_video.to_deployment(name="soundtrack-video", tags=["emsync"]),
    ]


def main(argv: list[str]) -> int:
    if argv[1:] != ["serve"]:
        print("usage: python -m flows.catalog.deploy serve", file=sys.stderr)
        return 2
    serve(*deployments())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

"""A catalog flow's own row (`FlowRunLink`): started under a lease that a heartbeat renews, tagged with
its catalog, finished with its summary, and left `failed` by Prefect's hooks when the flow dies."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from db.session import with_db_retry
from flows.catalog import queries, work
from flows.catalog.heartbeat import LeaseHeartbeat
from flows.settings import Settings, get_settings

log = logging.getLogger(__name__)


def flow_run_id() -> str:
    from prefect.runtime import flow_run

    return str(flow_run.id or f"local-{time.time_ns()}")


def catalog_tag(name: str) -> str:
    """The Prefect tag that names a catalog on its runs and deployments."""
    return f"catalog:{name}"


def tag_flow_run(catalog: str) -> None:
    """Add the catalog's tag to the running flow run, so the Prefect UI can filter runs by catalog."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    tags = sorted({*context.flow_run.tags, "emsync", catalog_tag(catalog)})
    with get_client(sync_client=True) as client:
        client.update_flow_run(context.flow_run.id, tags=tags)


@dataclass
class RunLink:
    """The running flow's row: `id` is what tasks and records point at."""

    url: str
    id: int
    heartbeat: LeaseHeartbeat = field(repr=False)

    def finish(self, state: str, summary: dict[str, Any]) -> None:
        with_db_retry(get_settings().batch.db_retry_window_s, queries.finish_flow_link, self.url, self.id, state,
                      summary)
        self.heartbeat.stop()

    def set_catalog(self, catalog_id: int) -> None:
        from db.models import FlowRunLink
        from db.session import session_scope

        with session_scope(self.url) as session:
            row = session.get(FlowRunLink, self.id)
            if row is not None:
                row.catalog_id = catalog_id


def begin(flow_name: str, url: str, catalog_id: int | None, params: dict[str, Any]) -> RunLink:
    """Record the flow's row under a lease that a heartbeat renews until the flow ends; rows of flows
    killed earlier (lease expired, or owner process gone) are marked abandoned first."""
    settings = get_settings()
    window = settings.batch.db_retry_window_s
    with_db_retry(window, queries.reap_flow_links, url, work.owner_is_dead)
    owner, lease_s = work.new_owner(), settings.batch.lease_s
    link = with_db_retry(window, queries.start_flow_link, url, flow_run_id(), flow_name, catalog_id, params, owner,
                         lease_s)
    heartbeat = LeaseHeartbeat(lambda: queries.renew_flow_link(url, link, owner, lease_s), lease_s / 3,
                               f"flow-lease-{link}")
    return RunLink(url, link, heartbeat.start())


def _mark_flow_failed(_flow: Any, flow_run: Any, state: Any) -> None:  # noqa: ANN401 - Prefect's hook types
    """A flow that raised, crashed or was cancelled leaves its row `failed`, not `running` (which also
    ends its heartbeat: the lease is no longer renewable)."""
    run_id = str(flow_run.id)
    url = get_settings().store.resolved_database_url
    try:
        from db.models import FlowRunLink
        from db.session import session_scope

        with session_scope(url) as session:
            link = session.execute(
                select(FlowRunLink.id).where(FlowRunLink.prefect_flow_run_id == run_id)
            ).scalar()
        if link is not None:
            error = getattr(state, "message", None) or state.name
            queries.finish_flow_link(url, link, "failed", {"error": str(error)[:2000]}, only_running=True)
    except Exception:  # noqa: BLE001 - the flow's own failure is what the user must see
        log.warning("could not mark flow run %s failed", run_id, exc_info=True)


ON_END = {"on_failure": [_mark_flow_failed], "on_crashed": [_mark_flow_failed], "on_cancellation": [_mark_flow_failed]}


def require_models(settings: Settings, run: RunLink) -> None:
    """Fail the flow before any work when the model server is down, and record why on its run link.

    Every flow that runs models calls this first: it is also where the process's thread budget is
    applied, shared among the `concurrency` jobs this flow runs at once.
    """
    from flows.inference import check_models_ready
    from flows.runtime import apply_thread_budget
    from serving.errors import ServingUnavailable

    apply_thread_budget(settings, jobs_in_process=settings.batch.concurrency)

    try:
        check_models_ready(settings)
    except ServingUnavailable as exc:
        queries.finish_flow_link(run.url, run.id, "failed", {"error": f"model server unavailable: {exc}"})
        run.heartbeat.stop()
        raise

"""A backfill worker imports and loads its models once, and holds one lease per job it is running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

import emsync_models.emotion.api as emotion_api
import flows.inference as inference
from db.models import RUNNING, GenerationRun
from db.session import session_scope
from flows.catalog import work
from flows.catalog.flows import backfill, ingest_catalog
from flows.settings import get_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_backfill_loads_models_once_and_claims_only_what_it_runs(
    prefect_api: str, tiny_clips: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMSYNC_ALLOWED_ROOTS", json.dumps([str(tiny_clips[0].parent)]))
    monkeypatch.setenv("EMSYNC_CONCURRENCY", "1")
    get_settings.cache_clear()
    url = get_settings().store.resolved_database_url
    manifest = tmp_path / "three.csv"
    manifest.write_text("uri\n" + "".join(f"{p}\n" for p in tiny_clips[:3]))
    ingest_catalog(str(manifest), "three")

    inference._cached_analyzer.cache_clear()
    inference._cached_client.cache_clear()
    loads: list[str] = []
    real_load = emotion_api.load_analyzer
    monkeypatch.setattr(emotion_api, "load_analyzer", lambda **kw: loads.append("emotion") or real_load(**kw))
    held_at_claim: list[int] = []
    real_claim = work.claim_next

    def counting_claim(*args: object, **kwargs: object) -> work.Claim | None:
        with session_scope(url) as session:
            held_at_claim.append(session.execute(
                select(func.count()).select_from(GenerationRun).where(GenerationRun.status == RUNNING)).scalar_one())
        return real_claim(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(work, "claim_next", counting_claim)
    done = backfill("three")
    assert (done["processed"], done["succeeded"]) == (3, 3)
    assert loads == ["emotion"], "the emotion models were loaded once for the whole backfill"
    # Concurrency 1: every claim (and the final empty one) is made with no other run of ours in flight.
    assert held_at_claim == [0, 0, 0, 0], held_at_claim

"""`EMSYNC_MODEL_BACKEND=triton` runs a catalog backfill with music v2 (the default), served by the real
Triton from infra/triton.sh (midi_generator_v2), on PostgreSQL like the fleet."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flows.catalog.flows import backfill, ingest_catalog
from flows.catalog.pinning import known_versions
from flows.settings import get_settings
from serving import protocol
from serving.triton_http import read_metrics

TRITON_URL = os.environ.get("EMSYNC_TEST_TRITON_URL", "")
METRICS_URL = os.environ.get("EMSYNC_TEST_TRITON_METRICS_URL", "")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.skipif(not (TRITON_URL and METRICS_URL), reason="EMSYNC_TEST_TRITON_URL / _METRICS_URL unset: "
                       "start Triton with `infra/triton.sh start` (the CI script does)"),
]


def _served(model: str) -> float:
    return read_metrics(METRICS_URL).get(model, {}).get("nv_inference_request_success", 0.0)


def test_backfill_with_triton_makes_v2_soundtracks(
    prefect_api: str, pg_url: str, tiny_clips: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clips = tiny_clips[:2]
    for key, value in {"EMSYNC_DATABASE_URL": pg_url, "EMSYNC_DATA_DIR": str(tmp_path / "data"),
                       "EMSYNC_ALLOWED_ROOTS": json.dumps([str(clips[0].parent)]), "EMSYNC_MODEL_BACKEND": "triton",
                       "EMSYNC_TRITON_URL": TRITON_URL}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("EMSYNC_MUSIC_MODEL", raising=False)
    get_settings.cache_clear()
    manifest = tmp_path / "served.csv"
    manifest.write_text("uri,external_id\n" + "".join(f"{p},ep-{i}\n" for i, p in enumerate(clips)))
    ingest_catalog(str(manifest), "served")
    before = _served(protocol.MUSIC_MODEL_V2)
    done = backfill("served")
    assert (done["processed"], done["succeeded"], done["music model"]) == (2, 2, "v2")
    assert known_versions()[done["models"]["music"]] == "v2"
    assert _served(protocol.MUSIC_MODEL_V2) - before == 2, "each video's music came from Triton's v2 model"

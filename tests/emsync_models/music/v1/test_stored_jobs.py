"""v1 is frozen: its committed checkpoint writes, token for token, what it wrote before the music package
was split into sub-packages (recorded with that commit's code; see stored_jobs.json)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from emsync_models.music.request import GenerationRequest

STORED = json.loads((Path(__file__).parent / "stored_jobs.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("job", STORED["jobs"], ids=lambda job: f"seed{job['request']['seed']}")
def test_v1_reproduces_a_stored_job_token_for_token(v1_generator, job: dict) -> None:
    if v1_generator.version != STORED["checkpoint_version"]:
        pytest.skip(f"the committed v1 checkpoint is {v1_generator.version}, the jobs were stored with "
                    f"{STORED['checkpoint_version']}")
    r = job["request"]
    request = GenerationRequest(**{**r, "boundaries_s": tuple(r["boundaries_s"]),
                                   "emotion": tuple(tuple(e) for e in r["emotion"])})
    tokens = [int(t) for t in v1_generator.generate_tokens(request)]
    assert len(tokens) == job["n_tokens"]
    assert hashlib.sha256(json.dumps(tokens).encode()).hexdigest() == job["sha256"]

"""Each committed checkpoint is loaded once per session; music tests run under the test process's
thread budget (tests/conftest.py: the models' pools one thread, sized once at its start) and never
change it. Loading a checkpoint costs seconds; tests that change a generator's attributes must do it
with `monkeypatch.setattr` so that the next test sees the committed defaults again.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from emsync_models.music import registry
from emsync_models.music.request import MusicGenerator

if TYPE_CHECKING:
    from emsync_models.music.v1.generator import MusicGeneratorV1
    from emsync_models.music.v2.generator import MusicGeneratorV2

@pytest.fixture(scope="session")
def load_model() -> Callable[[str], MusicGenerator]:
    """name -> that registered model from its committed checkpoint, loaded at most once per session."""
    loaded: dict[str, MusicGenerator] = {}

    def load(name: str) -> MusicGenerator:
        spec = registry.spec(name)
        if not spec.checkpoint.is_file():
            pytest.skip(f"no committed {name} checkpoint at {spec.checkpoint}")
        if name not in loaded:
            loaded[name] = spec.load()
        return loaded[name]

    return load


@pytest.fixture(scope="session")
def v1_generator(load_model: Callable[[str], MusicGenerator]) -> MusicGeneratorV1:
    return load_model("v1")  # type: ignore[return-value]


@pytest.fixture(scope="session")
def v2_generator(load_model: Callable[[str], MusicGenerator]) -> MusicGeneratorV2:
    return load_model("v2")  # type: ignore[return-value]

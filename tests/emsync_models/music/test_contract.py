"""Every registered music model honours the one contract: it loads from the registry, takes a
`GenerationRequest`, returns a `GeneratedMusic`, writes the same tokens for the same seed, samples with
its own registered top-p where the request leaves it unset, and refuses a bad request by its field."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from emsync_models.errors import InputError
from emsync_models.music import registry
from emsync_models.music.boundaries import DEFAULT_MIN_GAP_S
from emsync_models.music.request import GeneratedMusic, GenerationRequest, MusicGenerator

MODELS = sorted(registry.MODELS)
REQUEST = GenerationRequest(duration_s=10.0, boundaries_s=(3.0, 6.5), emotion=((0.0, 0.4, 0.3), (5.0, -0.2, 0.6)),
                            seed=2)


@pytest.fixture(params=MODELS)
def model(request: pytest.FixtureRequest, load_model: Callable[[str], MusicGenerator]) -> tuple[str, MusicGenerator]:
    return request.param, load_model(request.param)


@pytest.fixture
def music(model: tuple[str, MusicGenerator]) -> GeneratedMusic:
    return model[1].generate(REQUEST)


def test_the_registry_names_each_model_with_its_own_defaults() -> None:
    assert registry.DEFAULT_MODEL in registry.MODELS
    for name, spec in registry.MODELS.items():
        assert spec.name == name and spec.checkpoint.suffix == ".pt" and 0.0 < spec.top_p <= 1.0
    assert registry.V1.top_p != registry.V2.top_p  # each keeps its own, not a shared default
    with pytest.raises(ValueError, match="v1, v2"):
        registry.spec("v3")


def test_a_loaded_model_honours_the_protocol_and_is_named_by_its_checkpoint(model) -> None:
    name, gen = model
    assert isinstance(gen, MusicGenerator)
    assert gen.version == registry.file_sha256(registry.spec(name).checkpoint)[:12]
    assert gen.min_gap_s == DEFAULT_MIN_GAP_S


@pytest.mark.slow
def test_generate_returns_the_result_type(model, music: GeneratedMusic) -> None:
    assert isinstance(music, GeneratedMusic)
    assert isinstance(music.midi, pretty_midi.PrettyMIDI)
    assert sum(len(i.notes) for i in music.midi.instruments) > 5
    assert 0.0 < music.midi.get_end_time() <= REQUEST.duration_s + 0.01  # ends with the picture (MIDI ticks)
    assert all(isinstance(t, int) for t in music.tokens)
    assert all(0.0 <= t <= REQUEST.duration_s for t in music.chord_change_times_s)
    assert isinstance(music.tempo_map, dict) and isinstance(music.cut_chords, list)


@pytest.mark.slow
def test_the_same_seed_writes_the_same_tokens(model, music: GeneratedMusic) -> None:
    _, gen = model
    tokens = gen.generate_tokens(REQUEST)
    assert tokens.dtype == np.int64
    assert tokens.tolist() == music.tokens
    assert gen.generate_tokens(replace(REQUEST, seed=REQUEST.seed + 1)).tolist() != music.tokens


@pytest.mark.slow
def test_an_unset_top_p_is_the_models_registered_own(model, music: GeneratedMusic) -> None:
    name, gen = model
    own = registry.spec(name).top_p
    assert gen.default_top_p == own  # the registered models' own attribute, read from the registry
    assert gen.generate_tokens(replace(REQUEST, top_p=own)).tolist() == music.tokens


@pytest.mark.parametrize("field,bad", [("duration_s", -1.0), ("emotion", ((1.0, 0.0, 0.0),)), ("top_p", 0.0)])
def test_a_bad_request_is_refused_by_its_field(model, field: str, bad: object) -> None:
    with pytest.raises(InputError, match=field):
        model[1].generate(replace(REQUEST, **{field: bad}))


def test_the_contract_and_the_registry_load_without_torch() -> None:
    code = ("import sys; import emsync_models.music.registry, emsync_models.music.request, flows.settings; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    root = Path(__file__).resolve().parents[3]
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=root).returncode == 0

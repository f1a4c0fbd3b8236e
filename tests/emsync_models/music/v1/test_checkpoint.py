"""The committed default checkpoint: loads, generates a short soundtrack, follows the interface."""

from __future__ import annotations

from dataclasses import replace

import pretty_midi
import pytest

from emsync_models.errors import InputError
from emsync_models.music.registry import V1
from emsync_models.music.request import GenerationRequest
from emsync_models.music.v1.generator import DEFAULT_CHECKPOINT, load_generator

pytestmark = pytest.mark.skipif(not DEFAULT_CHECKPOINT.is_file(), reason="no committed music checkpoint")


@pytest.mark.slow
def test_default_checkpoint_generates_music_with_chords_near_cuts(v1_generator):
    gen = v1_generator
    assert gen.name == "emsync-music-small" and len(gen.version) == 12
    assert DEFAULT_CHECKPOINT.stat().st_size <= 30 * 1024 * 1024
    req = GenerationRequest(duration_s=10.0, boundaries_s=(4.0, 8.0), emotion=((0.0, 0.5, 0.5),), seed=0)
    music = gen.generate(req)
    assert isinstance(music.midi, pretty_midi.PrettyMIDI)
    assert 0 < music.midi.get_end_time() <= 10.0 + 1e-6
    assert sum(len(i.notes) for i in music.midi.instruments) > 5
    assert gen.generate_tokens(req).tolist() == music.tokens  # deterministic for a seed
    assert gen.generate_tokens(replace(req, top_p=V1.top_p)).tolist() == music.tokens  # unset: v1's own


def test_load_generator_rejects_missing_files_and_devices(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_generator(tmp_path / "none.pt")
    with pytest.raises(InputError, match="cuda"):
        load_generator(device="cuda")

"""A section's key shapes the chords the model may choose: diatonic ones only (the minor's dominant
borrowed), the plan's own chords given whatever their key."""

from __future__ import annotations

import pytest
import torch

from emsync_models.music.v2.harmony import key_chords
from emsync_models.music.v2.remi import QUALITY_INTERVALS, RESOLUTION, BeatTokenizer, parse_chord_token
from emsync_models.music.v2.sample import ForcedChord, SamplingV2, Voicing, generate_v2
from tests.emsync_models.music.v2.test_sample import _bar_loving_model

TOK = BeatTokenizer()


def _names(mask: torch.Tensor) -> set[str]:
    return {TOK.names[i].removeprefix("Chord_") for i in torch.nonzero(mask).flatten().tolist()}


def test_a_major_key_keeps_to_its_scale() -> None:
    major = _names(key_chords(TOK, minor=False))
    assert {"C:maj", "D:min", "E:min", "F:maj", "G:maj", "G:7", "A:min", "B:dim", "F:maj7"} <= major
    assert not {"D:maj", "E:maj", "A:maj", "Bb:maj", "C:min", "F:min", "N"} & major


def test_a_minor_key_borrows_only_the_leading_tone() -> None:
    minor = _names(key_chords(TOK, minor=True))
    assert {"C:min", "D:dim", "Eb:maj", "F:min", "G:min", "G:maj", "G:7", "Ab:maj", "Bb:maj", "B:dim7"} <= minor
    assert not {"C:maj", "F:maj", "D:maj", "A:min", "E:maj", "N"} & minor


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_model_chooses_in_key_and_the_plans_chords_stand(seed: int) -> None:
    model = _bar_loving_model(3.0)
    is_chord = torch.zeros(len(TOK), dtype=torch.bool)
    is_chord[torch.from_numpy(TOK.chord_ids)] = True
    model.head.bias.data[is_chord] = 4.0  # a model that writes chords often, of any kind
    in_key = key_chords(TOK, minor=False)
    prepare = TOK.vocab["Chord_D:7"]  # the dominant of the next section's key: outside this one
    bar = 4 * RESOLUTION
    forced = [ForcedChord(0, TOK.vocab["Chord_C:maj"]), ForcedChord(8 * bar), ForcedChord(10 * bar, prepare)]
    steps = [s.step for s in forced]
    cuts = [s / RESOLUTION for s in steps[1:]]
    trace = generate_v2(model, TOK, 12, lambda beat: (0.0, 0.0), forced, cuts, 0, seed=seed,
                        opts=SamplingV2(1.0, 1.0, 1.0), max_tokens=3000, voice=Voicing(key_chords=in_key))
    written = dict(trace.chord_steps)
    assert written.get(steps[2]) == prepare
    chosen = [c for s, c in trace.chord_steps if s != steps[2]]
    assert len(chosen) > 3
    for chord in chosen:
        root, quality = parse_chord_token(TOK.names[chord])
        assert {(root + i) % 12 for i in QUALITY_INTERVALS[quality]} <= {0, 2, 4, 5, 7, 9, 11}, TOK.names[chord]
    free = generate_v2(model, TOK, 12, lambda beat: (0.0, 0.0), forced, cuts, 0, seed=seed,
                       opts=SamplingV2(1.0, 1.0, 1.0), max_tokens=3000)
    assert any(not in_key[c] for s, c in free.chord_steps if s != steps[2]), "the test model writes out-of-key chords"

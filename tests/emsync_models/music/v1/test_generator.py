"""Generation: determinism, duration stop, cache == no cache, boundaries, sampling filters, the API."""

from __future__ import annotations

import dataclasses

import numpy as np
import pretty_midi
import pytest
import torch

from emsync_models.errors import InputError
from emsync_models.music.request import GenerationRequest, emotion_at, output_key_shift
from emsync_models.music.v1.generator import MusicGeneratorV1
from emsync_models.music.v1.model import MusicTransformer, MusicTransformerConfig
from emsync_models.music.v1.sample import SamplingOptions, generate, sample_next
from emsync_models.music.v1.transforms import transpose_folding
from emsync_models.music.v1.vocab import CHORD, NOTE_OFF_OFFSET, NOTE_ON_OFFSET, PAD, START, token_seconds_table

TINY = MusicTransformerConfig(block_size=48, n_layer=2, n_head=2, d_model=64, d_ff=128, d_condition=16, dropout=0.0)


@pytest.fixture(scope="module")
def model() -> MusicTransformer:
    torch.manual_seed(0)
    m = MusicTransformer(TINY).eval()
    with torch.no_grad():  # bias toward time shifts so random weights still move the clock
        m.head.weight[4:129] += 0.05
    return m


def test_same_seed_same_tokens_and_duration_stop(model: MusicTransformer):
    a = generate(model, 3.0, ((0.0, 0.5, -0.5),), (1.0,), seed=7)
    b = generate(model, 3.0, ((0.0, 0.5, -0.5),), (1.0,), seed=7)
    c = generate(model, 3.0, ((0.0, 0.5, -0.5),), (1.0,), seed=8)
    assert a.tokens == b.tokens and a.tokens != c.tokens
    clock = token_seconds_table()[np.asarray(a.tokens)].cumsum()
    assert clock[-1] >= 3.0 > clock[-2]  # stops on the token that reaches the duration
    assert a.tokens[0] == START and PAD not in a.tokens[1:] and START not in a.tokens[1:]


def test_cache_and_no_cache_sample_the_same_tokens_within_the_context(model: MusicTransformer):
    cached = generate(model, 2.0, ((0.0, 0.0, 0.0),), seed=3, max_tokens=TINY.block_size, use_cache=True)
    plain = generate(model, 2.0, ((0.0, 0.0, 0.0),), seed=3, max_tokens=TINY.block_size, use_cache=False)
    assert cached.tokens == plain.tokens


def test_generation_runs_past_the_context_window(model: MusicTransformer):
    trace = generate(model, 60.0, ((0.0, 0.0, 0.0),), seed=1, max_tokens=5 * TINY.block_size)
    assert len(trace.tokens) > TINY.block_size  # the cache was rebuilt at least once


def test_prepend_conditioning_generates_too():
    torch.manual_seed(0)
    m = MusicTransformer(dataclasses.replace(TINY, conditioning="prepend")).eval()
    trace = generate(m, 1.0, ((0.0, 0.3, 0.3),), seed=0, max_tokens=100)
    assert len(trace.tokens) > 1


def test_emotion_trajectory_is_piecewise_constant():
    traj = ((0.0, -0.5, 0.1), (4.0, 0.8, 0.9), (9.0, 0.0, -1.0))
    assert emotion_at(traj, 0.0) == (-0.5, 0.1)
    assert emotion_at(traj, 3.99) == (-0.5, 0.1)
    assert emotion_at(traj, 4.0) == (0.8, 0.9)
    assert emotion_at(traj, 100.0) == (0.0, -1.0)


def test_top_k_and_top_p_restrict_the_choice():
    logits = torch.full((1017,), -10.0)
    logits[[10, 20, 30]] = torch.tensor([5.0, 4.9, 1.0])
    g = torch.Generator().manual_seed(0)
    top1 = {sample_next(logits, SamplingOptions(top_k=1, top_p=1.0), g) for _ in range(20)}
    nucleus = {sample_next(logits, SamplingOptions(top_p=0.5), g) for _ in range(50)}
    assert top1 == {10}
    assert nucleus <= {10, 20}
    assert sample_next(logits, SamplingOptions(temperature=0.0), g) == 10
    logits[START] = 100.0
    assert sample_next(logits, SamplingOptions(), g) != START


def test_api_returns_midi_of_the_requested_length(model: MusicTransformer):
    gen = MusicGeneratorV1(model, version="test")
    req = GenerationRequest(duration_s=4.0, boundaries_s=(1.0, 1.5, 3.0), emotion=((0.0, 0.2, 0.2), (2.0, -0.5, 0.5)))
    music = gen.generate(req)
    assert isinstance(music.midi, pretty_midi.PrettyMIDI)
    assert music.midi.get_end_time() <= 4.0 + 1e-6
    tokens = gen.generate_tokens(req)
    assert tokens.dtype == np.int64 and tokens.tolist() == music.tokens
    assert isinstance(music.chord_change_times_s, list)


@pytest.mark.parametrize(
    ("field", "req"),
    [
        ("duration_s", GenerationRequest(0.0, (), ((0.0, 0.0, 0.0),))),
        ("emotion", GenerationRequest(5.0, (), ())),
        ("emotion", GenerationRequest(5.0, (), ((1.0, 0.0, 0.0),))),
        ("emotion", GenerationRequest(5.0, (), ((0.0, 2.0, 0.0),))),
        ("top_p", GenerationRequest(5.0, (), ((0.0, 0.0, 0.0),), top_p=0.0)),
        ("boundaries_s", GenerationRequest(5.0, (float("nan"),), ((0.0, 0.0, 0.0),))),
    ],
)
def test_bad_requests_name_the_field(model: MusicTransformer, field: str, req: GenerationRequest):
    with pytest.raises(InputError, match=field):
        MusicGeneratorV1(model).generate_tokens(req)


def test_guidance_mixes_a_null_label_stream_deterministically(model: MusicTransformer):
    opts = SamplingOptions(guidance=2.0)
    a = generate(model, 2.0, ((0.0, 0.8, -0.8),), seed=5, options=opts, max_tokens=60)
    b = generate(model, 2.0, ((0.0, 0.8, -0.8),), seed=5, options=opts, max_tokens=60)
    plain = generate(model, 2.0, ((0.0, 0.8, -0.8),), seed=5, max_tokens=60)
    assert a.tokens == b.tokens and len(a.tokens) > 1
    assert a.tokens != plain.tokens


def test_snapping_lands_the_clock_on_a_boundary(model: MusicTransformer):
    trace = generate(model, 6.0, ((0.0, 0.0, 0.0),), (2.5,), seed=2, max_tokens=400)
    clock = np.round(token_seconds_table()[np.asarray(trace.tokens)].cumsum(), 3)
    assert 2.504 in clock or 2.496 in clock or 2.5 in clock


def test_integer_labels_work_with_guidance(model: MusicTransformer):
    # (0, 0) as Python ints once made an int tensor that could not hold the null-label NaN
    trace = generate(model, 1.0, ((0, 0, 0),), seed=0, options=SamplingOptions(guidance=2.0), max_tokens=30)
    assert len(trace.tokens) > 1


class _Chordy(MusicTransformer):
    """Random weights with logits tilted toward mid-range piano notes, short time shifts and CHORD."""

    def forward(self, *args, **kwargs) -> torch.Tensor:  # noqa: ANN002, ANN003
        logits = super().forward(*args, **kwargs)
        tilt = torch.zeros(logits.shape[-1])
        tilt[4:40] += 2.0  # short time shifts
        tilt[NOTE_ON_OFFSET + 88 + 30 : NOTE_ON_OFFSET + 88 + 50] += 3.0  # piano note-ons, middle range
        tilt[CHORD] += 4.0
        return logits + tilt


def _chordy_model() -> MusicTransformer:
    torch.manual_seed(1)
    return _Chordy(TINY).eval()


def test_a_key_normalised_generator_transposes_its_output_per_seed():
    model = _chordy_model()  # plays mid-range piano notes, so every shift stays on the keyboard
    req = GenerationRequest(duration_s=3.0, boundaries_s=(), emotion=((0.0, 0.0, 0.0),), seed=4)
    in_c = MusicGeneratorV1(model, version="test").generate_tokens(req)
    keyed = MusicGeneratorV1(model, version="test", metadata={"key_normalised": True}).generate_tokens(req)
    shift = output_key_shift(4)
    assert -5 <= shift <= 6
    assert keyed.tolist() == transpose_folding(in_c, shift).tolist()
    assert shift != 0 and any(NOTE_ON_OFFSET + 88 <= t < NOTE_OFF_OFFSET for t in in_c)
    notes = [t for t in in_c.tolist() if NOTE_ON_OFFSET + 88 <= t < NOTE_OFF_OFFSET]
    moved = [t for t in keyed.tolist() if NOTE_ON_OFFSET + 88 <= t < NOTE_OFF_OFFSET]
    # the same pitch-class shift for every note (one at the keyboard's edge may fold an octave)
    assert [(b - a) % 12 for a, b in zip(notes, moved, strict=True)] == [shift % 12] * len(notes)
    assert {output_key_shift(s) for s in range(200)} == set(range(-5, 7))  # every key is reachable


def test_transposition_folds_a_note_an_octave_back_at_the_edge_of_the_keyboard():
    top = np.array([START, NOTE_ON_OFFSET + 88 + 86, NOTE_OFF_OFFSET + 88 + 86, NOTE_ON_OFFSET + 88 + 40])
    moved = transpose_folding(top, 5).tolist()  # piano B7 + 5 would leave the keyboard: E7 instead
    assert moved == [START, NOTE_ON_OFFSET + 88 + 79, NOTE_OFF_OFFSET + 88 + 79, NOTE_ON_OFFSET + 88 + 45]

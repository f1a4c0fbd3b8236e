"""Constrained decoding on the beat grid: forced chords land on their beat and differ from the sounding one."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from emsync_models.music.v2.model import MusicTransformerV2, MusicV2Config
from emsync_models.music.v2.remi import POSITIONS_PER_BAR, RESOLUTION, BeatTokenizer
from emsync_models.music.v2.sample import ForcedChord, SamplingV2, forced_plan, generate_v2, phrase_beats

TOK = BeatTokenizer()


def _bar_loving_model(bias: float) -> MusicTransformerV2:
    """A small random model biased towards bar lines and positions, so a short test crosses many bars.

    This exercises the decoder's constraints (not the music): between forced beats it writes bars and
    whatever the random weights like; at a forced beat only the constraints can make it comply.
    """
    torch.manual_seed(0)
    model = MusicTransformerV2(MusicV2Config(vocab_size=len(TOK), n_layer=1, d_model=32, n_head=2, d_ff=64,
                                             block_size=64))
    head = torch.nn.Linear(32, len(TOK), bias=True)
    head.weight.data.copy_(model.head.weight.data)
    head.bias.data.zero_()
    head.bias.data[torch.from_numpy(TOK.position_of >= 0)] = bias - 2.0
    head.bias.data[TOK.bar] = bias
    model.head = head
    return model.eval()


@settings(max_examples=6, deadline=None)
@given(st.lists(st.integers(1, 6 * 4 * RESOLUTION - 1), max_size=4, unique=True), st.integers(0, 10_000))
def test_forced_chords_land_on_their_step_and_change_the_harmony(steps: list[int], seed: int) -> None:
    model = _bar_loving_model(6.0)
    forced = [ForcedChord(0, TOK.vocab["Chord_C:maj"])] + [ForcedChord(s) for s in sorted(steps)]
    trace = generate_v2(model, TOK, 7, lambda beat: (0.0, 0.0), forced, [s / RESOLUTION for s in steps], 0,
                        seed=seed, opts=SamplingV2(1.0, 1.0, 1.0), max_tokens=1500)
    written = dict(trace.chord_steps)
    assert written.get(0) == TOK.vocab["Chord_C:maj"]
    for step in steps:
        assert step in written, f"no chord written at forced step {step}"
    # every chord names a change, and sits right after a position token
    ids = [i for _, i in trace.chord_steps]
    assert all(a != b for a, b in zip(ids, ids[1:], strict=False))
    for k, tok in enumerate(trace.tokens):
        if tok in set(TOK.chord_ids.tolist()):
            assert TOK.position_of[trace.tokens[k - 1]] >= 0
    # the clock never runs backwards
    beats = [b for b, _ in TOK.timeline(trace.tokens)]
    assert beats == sorted(beats)
    assert sum(1 for t in trace.tokens if t == TOK.bar) <= 7


def test_guidance_runs_two_streams_and_stays_in_bounds() -> None:
    model = _bar_loving_model(4.0)
    trace = generate_v2(model, TOK, 3, lambda beat: (0.5, -0.5), forced_plan(3, [4], TOK.vocab["Chord_C:maj"],
                        TOK.vocab["Chord_G:7"]), [4.0], 2, seed=1, opts=SamplingV2(1.0, 0.9, 2.0), max_tokens=800)
    written = dict(trace.chord_steps)
    assert written[0] == TOK.vocab["Chord_C:maj"] and 4 * RESOLUTION in written
    if 2 * POSITIONS_PER_BAR in written:  # the cadence: the tonic on the last downbeat
        assert written[2 * POSITIONS_PER_BAR] == TOK.vocab["Chord_C:maj"]


def test_forced_plan_and_phrase_points() -> None:
    tonic, dominant = TOK.vocab["Chord_A:min"], TOK.vocab["Chord_E:7"]
    plan = forced_plan(8, [10, 16, 29], tonic, dominant)
    assert [(f.step, f.chord_id) for f in plan] == [
        (0, tonic), (10 * RESOLUTION, None), (16 * RESOLUTION, None), (24 * RESOLUTION, dominant),
        (28 * RESOLUTION, tonic)]  # beat 29 falls inside the cadence and is left to it
    assert phrase_beats(8, [8]) == [16.0, 24.0]
    # A cut in the bar before the last downbeat carries the dominant itself: its change is the cadence.
    plan = forced_plan(8, [10, 26], tonic, dominant)
    assert [(f.step, f.chord_id) for f in plan] == [
        (0, tonic), (10 * RESOLUTION, None), (26 * RESOLUTION, dominant), (28 * RESOLUTION, tonic)]


@pytest.mark.parametrize("bias", [6.0])
def test_decoding_stops_at_the_planned_length(bias: float) -> None:
    trace = generate_v2(_bar_loving_model(bias), TOK, 4, lambda beat: (0.0, 0.0), [], [], 0, seed=3,
                        max_tokens=2000)
    assert sum(1 for t in trace.tokens if t == TOK.bar) <= 4


def test_cut_chords_are_heard_no_long_pitched_gaps_and_positions_do_not_pile_up() -> None:
    """The three listening constraints on a random model that would break all of them unconstrained."""
    from emsync_models.music.v2.sample import (
        MAX_ONSETS_PER_POSITION,
        MAX_PITCHED_GAP,
        MIN_NEW_PITCH_CLASSES,
        chord_pitch_classes,
    )

    model = _bar_loving_model(6.0)
    cut_steps = [2 * POSITIONS_PER_BAR + 12, 4 * POSITIONS_PER_BAR]
    forced = [ForcedChord(0, TOK.vocab["Chord_C:maj"])] + [ForcedChord(s) for s in cut_steps]
    trace = generate_v2(model, TOK, 6, lambda beat: (0.0, 0.0), forced, [s / RESOLUTION for s in cut_steps], 0,
                        seed=3, opts=SamplingV2(1.0, 1.0, 1.0), max_tokens=2500)
    pcs = chord_pitch_classes(TOK)
    steps = dict(trace.chord_steps)
    order = [s for s, _ in trace.chord_steps]
    for cut in cut_steps:
        before = steps[order[order.index(cut) - 1]]
        new = int((pcs[steps[cut]] & ~pcs[before]).sum())
        assert new >= MIN_NEW_PITCH_CLASSES, f"cut at step {cut}: only {new} new pitch classes"
    timeline = TOK.timeline(trace.tokens)
    pitched = [round(b * RESOLUTION) for (b, _), t in zip(timeline, trace.tokens, strict=True)
               if TOK.kind[t] == "Pitch"]
    last_bar_step = (sum(1 for t in trace.tokens if t == TOK.bar) - 1) * POSITIONS_PER_BAR
    gaps = [b - a for a, b in zip([0, *pitched], [*pitched, last_bar_step], strict=True)]
    assert max(gaps) <= MAX_PITCHED_GAP
    per_position: dict[int, int] = {}
    for (b, _), t in zip(timeline, trace.tokens, strict=True):
        if str(TOK.kind[t]).startswith("Pitch"):
            key = round(b * RESOLUTION)
            per_position[key] = per_position.get(key, 0) + 1
    assert max(per_position.values()) <= MAX_ONSETS_PER_POSITION


def test_a_piece_keeps_to_a_band_of_instruments() -> None:
    """A random model that loves program tokens would bring in a new instrument on every note."""
    from emsync_models.music.v2.sample import MAX_PROGRAMS

    model = _bar_loving_model(1.0)
    is_program = torch.from_numpy(TOK.kind.astype(str) == "Program")
    model.head.bias.data[is_program] = 4.0
    trace = generate_v2(model, TOK, 6, lambda beat: (0.0, 0.0), [], [], 0, seed=5,
                        opts=SamplingV2(1.0, 1.0, 1.0), max_tokens=1500)
    programs = {t for t in trace.tokens if is_program[t]}
    unconstrained = int(is_program.sum())
    assert unconstrained > 2 * MAX_PROGRAMS
    assert len(programs) == MAX_PROGRAMS, sorted(TOK.names[t] for t in programs)


def _program_loving_model() -> MusicTransformerV2:
    """A small random model that likes program tokens above all: left free it names many instruments."""
    model = _bar_loving_model(3.0)
    is_program = torch.from_numpy(TOK.kind.astype(str) == "Program")
    model.head.bias.data[is_program] = 5.0
    return model


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_programs_outside_the_palette_and_drums_are_never_written(seed: int) -> None:
    from emsync_models.music.v2.sample import Voicing

    palette = frozenset({0, 40, 42})
    trace = generate_v2(_program_loving_model(), TOK, 3, lambda beat: (0.0, 0.0), [], [], 0, seed=seed,
                        opts=SamplingV2(1.0, 1.0, 1.0), max_tokens=600, voice=Voicing(drums=False, programs=palette))
    names = [TOK.names[t] for t in trace.tokens]
    programs = {int(n.split("_")[1]) for n in names if n.startswith("Program_")}
    assert programs and programs <= palette
    assert not any(n.startswith("PitchDrum") for n in names)
    free = generate_v2(_program_loving_model(), TOK, 3, lambda beat: (0.0, 0.0), [], [], 0, seed=seed,
                       opts=SamplingV2(1.0, 1.0, 1.0), max_tokens=600)
    assert {int(TOK.names[t].split("_")[1]) for t in free.tokens if TOK.names[t].startswith("Program_")} - palette


def test_a_full_position_takes_no_more_notes_from_the_instrument_already_playing() -> None:
    """A model that, once an instrument plays, wants only more of its notes on the same position: the
    decoding still moves on and writes every bar."""
    from emsync_models.music.v2.sample import MAX_ONSETS_PER_POSITION

    model = _bar_loving_model(2.0)
    is_pitch = torch.from_numpy(TOK.kind.astype(str) == "Pitch")
    model.head.bias.data[is_pitch] = 12.0  # far above a bar line, a position or another instrument
    trace = generate_v2(model, TOK, 4, lambda beat: (0.0, 0.0), [ForcedChord(0, TOK.vocab["Chord_C:maj"])], [], 0,
                        seed=0, opts=SamplingV2(1.0, 1.0, 1.0), max_tokens=1500)
    assert sum(1 for t in trace.tokens if t == TOK.bar) == 4
    runs, here = [], 0  # notes after each position (or bar line) before the next
    for t in trace.tokens:
        if t == TOK.bar or TOK.position_of[t] >= 0:
            runs.append(here)
            here = 0
        elif str(TOK.kind[t]).startswith("Pitch"):
            here += 1
    assert max([*runs, here]) <= MAX_ONSETS_PER_POSITION

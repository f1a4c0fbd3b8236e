"""KV-cached sampling on the beat grid with constrained decoding of chords at hit points.

The loop keeps the beat clock (Bar and Position tokens advance it). A *forced* chord sits on a beat:
the clock may not pass that beat until a Position on it has been written, and the token after that
Position must be a chord token — a given one (the opening tonic, the cadence) or any chord other than
the one sounding (a cut). Everywhere else the model writes what it likes, except that a chord token
always names a different chord and positions only move forward. The boundary input is the number of
beats to the next boundary (cuts, and optional phrase points where the model may turn the harmony).
Bars follow a `BarGrid`: a short bar (2/4, 3/4) before a hit takes no positions past its end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from emsync_models.music.v2.bar_grid import FOUR_FOUR, BarGrid
from emsync_models.music.v2.model import CAP_BEATS, MusicTransformerV2
from emsync_models.music.v2.remi import (
    BEATS_PER_BAR,
    CHORD_TOKENS,
    POSITIONS_PER_BAR,
    QUALITY_INTERVALS,
    RESOLUTION,
    BeatTokenizer,
    parse_chord_token,
)

# A chord on a cut must bring at least this many pitch classes the sounding chord lacks: C -> Am or
# C -> C7 keep most of what sounds and a listener hardly hears the cut; C -> F, G or Dm is heard.
MIN_NEW_PITCH_CLASSES = 2
# The longest stretch (grid steps: half a bar) without a new pitched note: drums alone for bars on
# end read as silence under the music (a third of some calm pieces), so the clock may not pass this
# far beyond the last pitched onset until another is struck.
MAX_PITCHED_GAP = POSITIONS_PER_BAR // 2
# Onsets on one grid position at most (the corpus's busiest positions, drums + chord + bass + lead,
# hold about ten). Cornered by the constraints, the model could otherwise stack notes on one position
# by the hundred rather than move on.
MAX_ONSETS_PER_POSITION = 12
# Instruments (programs, drums as one) in a piece at most: the corpus's pieces use 5 (median), 7 at most
# in their first 30 s, and the comp is one more. Left free, one piece in nine wrote 8-9 (harmonica,
# trombone and tuba over a cello and choir), a patchwork no arranger would write.
MAX_PROGRAMS = 6


def chord_pitch_classes(tok: BeatTokenizer) -> torch.Tensor:
    """(vocab, 12) bool: the pitch classes of each chord token (no row set for other tokens or N)."""
    table = torch.zeros(len(tok), 12, dtype=torch.bool)
    for name in CHORD_TOKENS:
        root, quality = parse_chord_token(name)
        for interval in QUALITY_INTERVALS.get(quality, ()):
            table[tok.vocab[name], (root + interval) % 12] = True
    return table


@dataclass(frozen=True)
class ForcedChord:
    step: int  # grid step (1/RESOLUTION beat) from the start
    chord_id: int | None = None  # this chord, or None: any chord other than the one sounding


@dataclass
class SamplingV2:
    temperature: float = 1.0
    top_p: float = 0.95
    guidance: float = 1.0  # classifier-free guidance on V/A and style; 1.0 = plain sampling


@dataclass
class TraceV2:
    tokens: list[int]
    chord_steps: list[tuple[int, int]] = field(default_factory=list)  # (grid step, chord id) as written
    forced_hits: list[int] = field(default_factory=list)  # grid steps where a forced chord was written
    programs: list[int] = field(default_factory=list)  # the instruments the piece holds at its end (-1: drums)


@dataclass(frozen=True)
class Voicing:
    """What one section of a longer piece brings to its decoding: the tokens its context opens with
    (the previous section's last bars, or the theme it restates, so the model hears what it continues),
    the instruments already playing (the ensemble), whether drums may play, the grid step after which
    no new instrument may enter, the step before which chords sit only where forced (a restated theme's
    harmony), a callback told each bar written, and the user's palette: the GM programs the model may
    choose (None: any; the others are masked at sampling, the model has no conditioning for it)."""

    prime: tuple[int, ...] = ()
    ensemble: tuple[int, ...] = ()
    drums: bool = True
    new_programs_until: float = float("inf")
    chords_locked_until: int = 0
    progress: Callable[[int], None] | None = None
    programs: frozenset[int] | None = None
    # the chords the model may choose in the section's key ((vocab,) bool; None: any); a chord the plan
    # forces is given whatever its key
    key_chords: torch.Tensor | None = None


def _filtered_sample(logits: torch.Tensor, allowed: torch.Tensor, opts: SamplingV2, gen: torch.Generator) -> int:
    logits = logits.float().masked_fill(~allowed, -float("inf"))
    if opts.temperature <= 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / opts.temperature, dim=-1)
    if opts.top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        keep = sorted_p.cumsum(0) - sorted_p < opts.top_p
        sorted_p = sorted_p * keep
        return int(order[torch.multinomial(sorted_p / sorted_p.sum(), 1, generator=gen)])
    return int(torch.multinomial(probs, 1, generator=gen))


@torch.inference_mode()
def generate_v2(
    model: MusicTransformerV2,
    tok: BeatTokenizer,
    n_bars: int,
    condition_at: Callable[[float], tuple[float, float]],
    forced: Sequence[ForcedChord],
    boundary_beats: Sequence[float],
    style: int,
    seed: int = 0,
    opts: SamplingV2 | None = None,
    max_tokens: int | None = None,
    grid: BarGrid = FOUR_FOUR,
    hold: Sequence[tuple[float, float]] = (),
    voice: Voicing | None = None,
) -> TraceV2:
    """Tokens for `n_bars` bars of `grid` (4/4 without one). `condition_at(beat)` gives (valence,
    arousal) at a beat. In the `hold` spans (beats, [start, end)) the harmony holds: no chord token
    but a forced one. `voice` carries what a section of a longer piece inherits (`Voicing`)."""
    opts = opts or SamplingV2()
    voice = voice or Voicing()
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    vocab = len(tok)
    is_chord = torch.zeros(vocab, dtype=torch.bool)
    is_chord[torch.from_numpy(tok.chord_ids)] = True
    no_chord = tok.vocab["Chord_N"]
    position_of = torch.from_numpy(tok.position_of)
    is_position = position_of >= 0
    base_allowed = torch.ones(vocab, dtype=torch.bool)
    base_allowed[[tok.pad, tok.bos]] = False
    base_allowed[no_chord] = False  # generated music always has a harmony
    pitch_classes = chord_pitch_classes(tok)
    is_pitched = torch.from_numpy(tok.kind.astype(str) == "Pitch")  # not PitchDrum
    last_pitched = 0  # grid step of the last pitched onset
    is_program = torch.from_numpy(tok.kind.astype(str) == "Program")
    is_any_pitch = torch.from_numpy(np.char.startswith(tok.kind.astype(str), "Pitch"))
    onsets_here = 0  # notes struck on the current position
    used_programs = torch.zeros(vocab, dtype=torch.bool)
    for program in voice.ensemble:
        used_programs[tok.vocab[f"Program_{program}"]] = True
    drum_ids = torch.from_numpy(tok.kind.astype(str) == "PitchDrum")
    drum_ids[tok.vocab["Program_-1"]] = True
    outside_palette = torch.zeros(vocab, dtype=torch.bool)
    if voice.programs is not None:
        for program in range(128):
            if program not in voice.programs:
                outside_palette[tok.vocab[f"Program_{program}"]] = True
    forced_steps = {f.step for f in forced}
    forced = sorted(forced, key=lambda f: f.step)
    bounds = sorted(float(b) for b in boundary_beats)
    limit = max_tokens or n_bars * 400 + 64
    block = model.config.block_size

    tokens: list[int] = [tok.bos, *voice.prime]
    first = len(tokens)
    bar, pos, sounding = -1, -1, -1
    chord_written_at = -1  # grid step of the last chord token
    fi, bi = 0, 0
    trace = TraceV2(tokens)

    def bar_step(b: int) -> int:
        return grid.start(b) * RESOLUTION

    def clock() -> int:
        return bar_step(max(bar, 0)) + max(pos, 0)

    def locate(step: int) -> tuple[int, int]:
        b = grid.bar_at(step / RESOLUTION)
        return b, step - bar_step(b)

    def to_boundary() -> float:
        nonlocal bi
        beat = clock() / RESOLUTION
        while bi < len(bounds) and (bounds[bi] < beat or (bounds[bi] == beat and chord_written_at == clock())):
            bi += 1
        return min(bounds[bi] - beat, CAP_BEATS) if bi < len(bounds) else CAP_BEATS

    guided = opts.guidance != 1.0
    rows = 2 if guided else 1
    style_t = torch.tensor([style, -1][:rows])
    feats: list[tuple[float, float, float]] = []

    def feature_now() -> tuple[float, float, float]:
        v, a = condition_at(clock() / RESOLUTION)
        return v, a, to_boundary()

    def run(lo: int, hi: int, cache: object) -> torch.Tensor:
        x = torch.tensor([tokens[lo:hi]] * rows)
        f = torch.tensor(feats[lo:hi], dtype=torch.float32)
        v = f[:, 0].expand(rows, -1).clone()
        a = f[:, 1].expand(rows, -1).clone()
        tb = f[:, 2].expand(rows, -1)
        if guided:
            v[1], a[1] = float("nan"), float("nan")
        logits = model(x, v, a, tb, style_t, cache)[:, -1]  # type: ignore[arg-type]
        return logits[1] + opts.guidance * (logits[0] - logits[1]) if guided else logits[0]

    feats.extend([feature_now()] * first)
    cache = model.new_cache(rows)
    window = max(first - block // 2, 0)
    logits = run(window, first, cache)
    while len(tokens) < limit:
        allowed = base_allowed.clone()
        if sounding >= 0:
            allowed[sounding] = False
        if not is_position[tokens[-1]]:  # a chord sits right after the position it starts on
            allowed &= ~is_chord
        if voice.key_chords is not None:
            allowed &= ~is_chord | voice.key_chords
        if bar < n_bars - 1:
            allowed[tok.eos] = False
        if pos >= 0:  # positions move forward within a bar
            allowed &= ~(is_position & (position_of <= pos))
        bar_beats = grid.length(bar) if bar >= 0 else BEATS_PER_BAR
        if bar_beats < BEATS_PER_BAR:  # a short bar ends early
            past_end = is_position & (position_of >= bar_beats * RESOLUTION)
            allowed &= ~past_end
            # The model does not know the bar is short: what it gives to moving past the end is moving
            # on, so that goes to the next bar line. Spread over the rest it stacked notes on the last
            # positions (1.5-3 more notes/s in the middle cells of the eval grid).
            logits = logits.clone()
            logits[tok.bar] = torch.logsumexp(torch.cat([logits[tok.bar].view(1), logits[past_end]]), 0)
        pending = forced[fi] if fi < len(forced) else None
        on_forced = False
        if pending is not None:
            f_bar, f_pos = locate(pending.step)
            on_forced = bar == f_bar and pos == f_pos
            if on_forced:  # on the beat: the chord now
                only = torch.zeros(vocab, dtype=torch.bool)
                if pending.chord_id is not None:
                    only[pending.chord_id] = True
                else:
                    only = is_chord & allowed
                    if sounding >= 0:  # a change the ear hears: enough new pitch classes
                        new = (pitch_classes & ~pitch_classes[sounding]).sum(dim=1)
                        heard = only & (new >= MIN_NEW_PITCH_CLASSES)
                        only = heard if bool(heard.any()) else only
                allowed = only
            elif bar == f_bar:  # in its bar, before it: no Bar, no position past it
                allowed[tok.bar] = False
                allowed &= ~(is_position & (position_of > f_pos))
        if not on_forced and any(a * RESOLUTION <= clock() < b * RESOLUTION for a, b in hold):
            allowed &= ~is_chord  # near a merged cut the harmony holds
        if onsets_here >= MAX_ONSETS_PER_POSITION and not is_program[tokens[-1]]:
            # this position is full: the next note goes on a later one (no other instrument here, and no
            # more notes for this one: left a pitch, the model once wrote thousands on one position)
            allowed &= ~(is_program | is_any_pitch)
        if int(used_programs.sum()) >= MAX_PROGRAMS:  # the band is complete: no new instrument
            allowed &= ~(is_program & ~used_programs)
        if bar >= 0:  # no long silences: a pitched note within MAX_PITCHED_GAP of the last one
            due = last_pitched + MAX_PITCHED_GAP
            if bar_step(bar + 1) > due:
                allowed[tok.bar] = False
                allowed[tok.eos] = False
            allowed &= ~(is_position & (bar_step(bar) + position_of > due))
        if not voice.drums:  # the plan (or the user) leaves this section without drums
            allowed &= ~drum_ids
        if voice.programs is not None:  # the user's palette
            allowed &= ~outside_palette
        if bar >= 0 and clock() >= voice.new_programs_until:  # the ensemble is set for this section
            allowed &= ~(is_program & ~used_programs)
        if clock() < voice.chords_locked_until and clock() not in forced_steps:  # a theme's harmony
            allowed &= ~is_chord
        if bar < 0:  # REMI starts with a bar line: nothing may come before the first Bar
            allowed = torch.zeros(vocab, dtype=torch.bool)
            allowed[tok.bar] = True
        token = _filtered_sample(logits, allowed, opts, gen)
        if token == tok.eos or (token == tok.bar and bar + 1 >= n_bars):
            break
        tokens.append(token)
        if token == tok.bar:
            bar, pos, onsets_here = bar + 1, -1, 0
            if voice.progress is not None:
                voice.progress(bar)
        elif is_position[token]:
            pos, onsets_here = int(position_of[token]), 0
        elif is_program[token]:
            used_programs[token] = True
        elif is_any_pitch[token]:
            onsets_here += 1
            if is_pitched[token]:
                last_pitched = clock()
        elif is_chord[token]:
            sounding, chord_written_at = token, clock()
            trace.chord_steps.append((clock(), token))
            if pending is not None and clock() == pending.step:
                trace.forced_hits.append(clock())
                fi += 1
        # a forced chord that was already there (the cadence on the chord sounding) needs nothing
        while fi < len(forced) and forced[fi].chord_id == sounding and clock() >= forced[fi].step:
            fi += 1
        feats.append(feature_now())
        n = len(tokens)
        if n - window > block:  # context full: keep the newest half and rebuild the cache from it
            window = n - block // 2
            cache = model.new_cache(rows)
            logits = run(window, n, cache)
        else:
            logits = run(n - 1, n, cache)
    trace.tokens = [tok.bos, *tokens[first:]]
    trace.programs = sorted(int(tok.names[i].split("_")[1]) for i in torch.nonzero(used_programs).flatten().tolist())
    return trace


def cadence_steps(n_bars: int, cut_beats: Sequence[float], grid: BarGrid = FOUR_FOUR) -> tuple[int, int]:
    """(dominant, tonic) grid steps of the closing V-I: the tonic on the last downbeat, the dominant on
    the latest cut in the bar before it (so that cut's change is the cadence the ear hears), else on
    that bar's downbeat."""
    final = grid.start(n_bars - 1) * RESOLUTION
    before = grid.start(n_bars - 2) * RESOLUTION if n_bars >= 2 else final - POSITIONS_PER_BAR
    cut_steps = sorted(int(round(beat * RESOLUTION)) for beat in cut_beats)
    in_cadence = [s for s in cut_steps if before <= s <= final - RESOLUTION]
    return (in_cadence[-1] if in_cadence else before), final


def forced_plan(
    n_bars: int, cut_beats: Sequence[int], tonic_id: int, dominant_id: int, opening: bool = True,
    grid: BarGrid = FOUR_FOUR,
) -> list[ForcedChord]:
    """The opening tonic, a new chord on each cut's beat, and the V-I cadence of `cadence_steps`.
    Cuts after the last downbeat are left to the ringing final chord."""
    dominant, final = cadence_steps(n_bars, cut_beats, grid)
    plan: dict[int, ForcedChord] = {}
    if opening:
        plan[0] = ForcedChord(0, tonic_id)
    for beat in cut_beats:
        step = int(round(beat * RESOLUTION))
        if 0 < step < dominant:
            plan[step] = ForcedChord(step, None)
    if dominant > 0:
        plan[dominant] = ForcedChord(dominant, dominant_id)
    if final > 0:
        plan[final] = ForcedChord(final, tonic_id)
    return [plan[k] for k in sorted(plan)]


def phrase_beats(n_bars: int, cut_beats: Sequence[int], every_bars: int = 2,
                 grid: BarGrid = FOUR_FOUR) -> list[float]:
    """Downbeats every `every_bars` bars, except within a bar of a cut: where the model may turn the harmony."""
    out = []
    for bar in range(every_bars, n_bars, every_bars):
        beat = grid.start(bar)
        if all(abs(beat - c) >= BEATS_PER_BAR for c in cut_beats):
            out.append(float(beat))
    return out


def steps_to_beats(steps: np.ndarray) -> np.ndarray:
    return np.asarray(steps, dtype=np.float64) / RESOLUTION

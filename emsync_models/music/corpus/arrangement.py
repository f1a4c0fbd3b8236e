"""From (progression, groove family, tempo, key) to an MMA chord chart and its exact labels.

Everything here is a pure function of its inputs: `plan_piece` draws one piece's choices from a seeded
generator, `chart_for` lays the progression on the groove's bars (intro, main, fill, main, end; an
optional key and tempo change at the fill) and returns both the MMA script and the labels that the
script makes true. MMA itself runs elsewhere (a build-time tool, never imported).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from emsync_models.music.corpus.grooves import GrooveFamily
from emsync_models.music.corpus.layout import (
    ChartChord,
    KeyChange,
    PieceLabels,
    Section,
    TempoPoint,
    chord_symbol,
)
from emsync_models.music.corpus.progressions import Progression, RelChord, parallel_mode

MIN_S, MAX_S = 30.0, 90.0
INTRO_BARS, END_BARS, FILL_BARS = 2, 2, 1
KEY_CHANGES = (2, 5, -2, 7, 3, -3)  # semitones for the second main section: up a tone, to IV, ...


@dataclass(frozen=True)
class PieceSpec:
    id: str
    progression: int  # index into the build's progression list
    family: str
    groove: str
    intro: str  # "" = none
    fill: str
    end: str
    tempo_bpm: int
    tonic_pc: int
    target_s: float
    key_change: int  # semitones at the fill, 0 = none
    tempo_factor: float  # tempo multiplier after the fill, 1.0 = none
    melody: bool
    program_seed: int  # seeds the GM program choice inside each family
    mode_swap: bool = False  # play the progression in its parallel mode


def plan_piece(
    piece_id: str, rng: np.random.Generator, progressions: list[Progression], families: list[GrooveFamily],
    melody_share: float = 0.5,
) -> PieceSpec:
    """One piece's choices. Melodic tunes go to grooves of their own meter (so the tune fits the bars)."""
    p_index = int(rng.integers(len(progressions)))
    prog = progressions[p_index]
    melody = bool(prog.melody) and prog.source == "folk" and rng.random() < melody_share
    fitting = [f for f in families if f.beats_per_bar == prog.beats_per_bar] if melody else families
    if not fitting:
        melody, fitting = False, families
    fam = fitting[int(rng.integers(len(fitting)))]
    lo, hi = fam.tempo_range
    tempo = int(rng.integers(lo, hi + 1))

    def pick(names: tuple[str, ...], p: float) -> str:
        return names[int(rng.integers(len(names)))] if names and rng.random() < p else ""

    groove = fam.base[int(rng.integers(len(fam.base)))]
    intro, fill, end = pick(fam.intro, 0.8), pick(fam.fill, 0.7), pick(fam.end, 0.85)
    key_change = int(rng.choice(KEY_CHANGES)) if rng.random() < 0.2 else 0
    tempo_factor = float(rng.choice((0.9, 1.1, 1.2))) if rng.random() < 0.15 else 1.0
    return PieceSpec(
        id=piece_id, progression=p_index, family=fam.name, groove=groove, intro=intro, fill=fill, end=end,
        tempo_bpm=tempo, tonic_pc=int(rng.integers(12)), target_s=float(rng.uniform(35.0, 85.0)),
        key_change=key_change, tempo_factor=tempo_factor, melody=melody, program_seed=int(rng.integers(2**31)),
        # most sources are major: half of those are heard in minor, so both modes are well represented
        mode_swap=bool(rng.random() < (0.5 if prog.mode == "major" else 0.1)),
    )


def _slot_starts(beats_per_bar: int, n_chords: int) -> list[int]:
    """Beats (in the bar) where the bar's chords start: one chord fills the bar, two split it."""
    if n_chords <= 1 or beats_per_bar < 2:
        return [0]
    return [0, (beats_per_bar + 1) // 2]


@dataclass(frozen=True)
class Chart:
    mma: str  # the MMA script
    labels: PieceLabels
    melody: tuple[tuple[float, float, int], ...]  # (onset beat, duration beats, MIDI pitch), absolute
    bar_count: int


def _abs_chord(c: RelChord, tonic: int) -> tuple[int, str]:
    return (c.root + tonic) % 12, c.quality


def _bars_for_main(prog: Progression, n: int, start: int) -> list[tuple[int, tuple[RelChord, ...]]]:
    """n bars of the progression looped from bar `start`: (source bar index, chords)."""
    return [((start + j) % len(prog.bars), prog.bars[(start + j) % len(prog.bars)]) for j in range(n)]


def chart_for(spec: PieceSpec, prog: Progression, fam: GrooveFamily,
              two_chord_grooves: Collection[str] | None = None) -> Chart:
    """The MMA script for `spec` and the labels it makes true (chords, grid, tempo, keys, sections).

    A bar keeps its second chord only on grooves in `two_chord_grooves` (those that audition as
    playing a chord change half way through a bar; None = every groove); elsewhere it holds its first.
    """
    if not prog.bars:
        raise ValueError(f"progression {prog.item!r} has no bars")
    if spec.mode_swap:
        prog = parallel_mode(prog)
    bpb = fam.beats_per_bar
    tempo2 = int(round(spec.tempo_bpm * spec.tempo_factor))
    mean_bpm = (spec.tempo_bpm + tempo2) / 2
    bar_s = bpb * 60.0 / mean_bpm
    n_intro = INTRO_BARS if spec.intro else 0
    n_end = END_BARS if spec.end else 0
    n_fill = FILL_BARS if spec.fill else 0
    total = int(round(spec.target_s / bar_s))
    lo_bars = int(np.ceil(MIN_S / (bpb * 60.0 / min(spec.tempo_bpm, tempo2))))
    hi_bars = int(np.floor(MAX_S / (bpb * 60.0 / max(spec.tempo_bpm, tempo2))))
    total = int(np.clip(total, lo_bars + 1, max(hi_bars - 1, lo_bars + 1)))
    n_main = max(total - n_intro - n_end - n_fill, 2)
    n_a = n_main // 2
    n_b = n_main - n_a

    # (groove, tonic, chords, source bar or None, section kind, tempo or None) per bar
    tonic_a = spec.tonic_pc
    tonic_b = (spec.tonic_pc + spec.key_change) % 12
    i_chord = RelChord(0, "min" if prog.mode == "minor" else "maj")
    v_chord = RelChord(7, "7")
    bars: list[tuple[str, int, tuple[RelChord, ...], int | None, str]] = []
    for j in range(n_intro):
        bars.append((spec.intro, tonic_a, (i_chord,) if j < n_intro - 1 else (v_chord,), None, "intro"))
    for src, chords in _bars_for_main(prog, n_a, 0):
        bars.append((spec.groove, tonic_a, chords, src, "main"))
    fill_start = n_a
    if n_fill:
        for src, chords in _bars_for_main(prog, n_fill, fill_start):
            bars.append((spec.fill, tonic_a, chords, src, "fill"))
    for src, chords in _bars_for_main(prog, n_b, fill_start + n_fill):
        bars.append((spec.groove, tonic_b, chords, src, "main"))
    for _ in range(n_end):
        bars.append((spec.end, tonic_b, (i_chord,), None, "end"))

    # MMA draws random volumes, skips and voicings: seeding it makes a piece a function of its spec.
    lines = [f"// {spec.id}", f"RndSeed {spec.program_seed % 1_000_003}", f"Tempo {spec.tempo_bpm}"]
    chords: list[ChartChord] = []
    sections: list[Section] = []
    keys = [KeyChange(0.0, tonic_a, prog.mode)]
    tempo_map = [TempoPoint(0.0, float(spec.tempo_bpm))]
    melody: list[tuple[float, float, int]] = []
    b_start = n_intro + n_a + n_fill  # the second main section: where key and tempo may change
    prev_groove, prev_kind = "", ""
    for b, (groove, tonic, bar_chords, src, kind) in enumerate(bars):
        beat = float(b * bpb)
        if kind != prev_kind or b == b_start:
            sections.append(Section(beat, kind))
        if b == b_start:
            if tempo2 != spec.tempo_bpm:
                lines.append(f"Tempo {tempo2}")
                tempo_map.append(TempoPoint(beat, float(tempo2)))
            if tonic_b != tonic_a:
                keys.append(KeyChange(beat, tonic_b, prog.mode))
        if groove != prev_groove:
            # Humanisation off so the chart's onsets are the music's (INFRA-NOTES: 89 % -> on grid).
            # `Seq` restarts the groove's pattern sequence, so a section sounds the same wherever it falls.
            lines += [f"Groove {groove}", "Seq", "AllTracks RTime 0", "AllTracks Chord Strum 0"]
        prev_groove, prev_kind = groove, kind
        if two_chord_grooves is not None and groove not in two_chord_grooves:
            bar_chords = bar_chords[:1]
        starts = _slot_starts(bpb, len(bar_chords))
        tokens = ["/"] * bpb
        for k, (c, s) in enumerate(zip(bar_chords, starts, strict=False)):
            root, quality = _abs_chord(c, tonic)
            sym = chord_symbol(root, quality)
            tokens[s] = sym
            end = starts[k + 1] if k + 1 < len(starts) and k + 1 < len(bar_chords) else bpb
            onset = beat + s
            if chords and chords[-1].symbol == sym and chords[-1].onset_beat + chords[-1].duration_beats == onset:
                last = chords[-1]
                chords[-1] = ChartChord(last.onset_beat, last.duration_beats + (end - s), last.root_pc,
                                        last.quality, sym)
            else:
                chords.append(ChartChord(onset, float(end - s), root, quality, sym))
        lines.append(f"{b + 1} " + " ".join(tokens))
        if spec.melody and src is not None and kind in ("main", "fill"):
            melody.extend(_melody_bar(prog, src, bpb, beat, tonic))
    labels = PieceLabels(
        id=spec.id, beats_per_bar=bpb, n_bars=len(bars), chords=tuple(chords), tempo_map=tuple(tempo_map),
        keys=tuple(keys), sections=tuple(sections), chord_source="chart",
    )
    return Chart("\n".join(lines) + "\n", labels, tuple(melody), len(bars))


def _melody_bar(prog: Progression, src: int, bpb: int, beat: float, tonic: int) -> list[tuple[float, float, int]]:
    lo, hi = src * bpb, (src + 1) * bpb
    shift = tonic if tonic <= 6 else tonic - 12  # stay near the tune's own register
    out = []
    for n in prog.melody:
        if lo <= n.onset_beat < hi:
            dur = min(n.duration_beats, hi - n.onset_beat)
            out.append((beat + n.onset_beat - lo, dur, n.pitch + shift))
    return out

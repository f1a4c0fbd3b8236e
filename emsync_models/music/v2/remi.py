"""The v2 music vocabulary: MidiTok's REMI+ on a beat grid, with the chart's chords as our own tokens.

MidiTok 3.1 REMI (bars, positions at 1/12 beat so both sixteenths and triplets are exact, program
changes, pitch, velocity, duration) does the note work and its decoder writes the MIDI back. Its own
chord tokens come from detection, so the corpus's chord chart is spliced in as `Chord_<root>:<quality>`
tokens right after the position where each chord starts. A note carries its duration, so nothing is
left hanging. Tempo is not a token: the hit-point tempo map (hitpoints.py) sets it when writing MIDI.
Pieces are 4/4; the generator may shorten a bar before a hit (a `BarGrid`), which the tokens show
only as a Bar token that comes early, so decoding and the timeline take the grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import symusic
from miditok import REMI, TokenizerConfig, TokSequence

from emsync_models.music.v2.bar_grid import FOUR_FOUR, BarGrid

BEATS_PER_BAR = 4
RESOLUTION = 12  # positions per beat: sixteenths (3) and eighth-note triplets (4) both land on it
POSITIONS_PER_BAR = BEATS_PER_BAR * RESOLUTION
TICKS_PER_BEAT = 480
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
QUALITIES = ("maj", "min", "dim", "aug", "sus4", "7", "maj7", "m7", "m7b5", "dim7")
# Pitch classes of each quality relative to the root (for cadences and for tests).
QUALITY_INTERVALS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8), "sus4": (0, 5, 7),
    "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10), "m7b5": (0, 3, 6, 10), "dim7": (0, 3, 6, 9),
}
NO_CHORD = "N"


@dataclass(frozen=True, order=True)
class ChartChord:
    beat: float  # where the chord starts, in beats from the piece's start
    root: int  # pitch class 0..11 (ignored for NO_CHORD)
    quality: str  # one of QUALITIES, or NO_CHORD

    @property
    def name(self) -> str:
        return NO_CHORD if self.quality == NO_CHORD else f"{NOTE_NAMES[self.root % 12]}:{self.quality}"

    def pitch_classes(self) -> frozenset[int]:
        if self.quality == NO_CHORD:
            return frozenset()
        return frozenset((self.root + i) % 12 for i in QUALITY_INTERVALS[self.quality])


def chord_token(root: int, quality: str) -> str:
    return "Chord_" + (NO_CHORD if quality == NO_CHORD else f"{NOTE_NAMES[root % 12]}:{quality}")


def parse_chord_token(token: str) -> tuple[int, str]:
    """(root pitch class, quality) of a `Chord_...` token; (0, 'N') for no chord."""
    body = token.split("_", 1)[1]
    if body == NO_CHORD:
        return 0, NO_CHORD
    root, quality = body.split(":")
    return NOTE_NAMES.index(root), quality


CHORD_TOKENS: tuple[str, ...] = tuple(chord_token(r, q) for r in range(12) for q in QUALITIES) + (
    chord_token(0, NO_CHORD),
)


def make_config() -> TokenizerConfig:
    return TokenizerConfig(
        pitch_range=(21, 109),
        beat_res={(0, 4): RESOLUTION, (4, 8): 4},
        num_velocities=16,
        special_tokens=["PAD", "BOS", "EOS"],
        use_velocities=True,
        use_chords=False,
        use_rests=False,
        use_tempos=False,
        use_time_signatures=False,
        use_programs=True,
        one_token_stream_for_programs=True,
        program_changes=True,
        use_pitchdrum_tokens=True,
    )


class BeatTokenizer:
    """encode(Score, chart) -> ids; decode(ids) -> Score (4/4, tempo from a map); a printable vocab."""

    def __init__(self) -> None:
        self.remi = REMI(make_config())
        for name in CHORD_TOKENS:
            self.remi.add_to_vocab(name)
        self.vocab: dict[str, int] = dict(self.remi.vocab)
        self.names: list[str] = [""] * len(self.vocab)
        for name, i in self.vocab.items():
            self.names[i] = name
        self.pad, self.bos, self.eos = self.vocab["PAD_None"], self.vocab["BOS_None"], self.vocab["EOS_None"]
        self.bar = self.vocab["Bar_None"]
        self.kind = np.array([n.split("_", 1)[0] for n in self.names])
        self.position_of = np.array(
            [int(n.split("_")[1]) if n.startswith("Position_") else -1 for n in self.names], dtype=np.int64
        )
        self.chord_ids = np.array([self.vocab[t] for t in CHORD_TOKENS], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"BeatTokenizer({len(self)} tokens: REMI+ via MidiTok {len(self.remi.vocab) - len(CHORD_TOKENS)}, " \
               f"{len(CHORD_TOKENS)} chart chords)"

    # --- encoding -------------------------------------------------------------------------------
    def encode(self, score: symusic.Score, chart: Sequence[ChartChord] = ()) -> list[int]:
        """BOS, then REMI+ tokens with a chord token after the position where each chart chord starts."""
        seq = self.remi.encode(score)
        tokens = seq.tokens if isinstance(seq, TokSequence) else seq[0].tokens
        return [self.bos] + [self.vocab[t] for t in splice_chords(list(tokens), chart)]

    def encode_file(self, path: Path, chart: Sequence[ChartChord] = ()) -> list[int]:
        return self.encode(symusic.Score(str(path)), chart)

    # --- decoding -------------------------------------------------------------------------------
    def decode(self, ids: Sequence[int], grid: BarGrid | None = None) -> symusic.Score:
        """The notes as a Score in beats (ticks per quarter TICKS_PER_BEAT), chords and specials dropped;
        with a `grid`, each bar's notes moved to where that grid starts the bar."""
        keep = [self.names[i] for i in ids if self.kind[i] not in ("Chord", "PAD", "BOS", "EOS")]
        if not any(t.startswith("Pitch") for t in keep):
            return symusic.Score(TICKS_PER_BEAT)
        score = self.remi.decode(TokSequence(tokens=keep))
        score = score.resample(TICKS_PER_BEAT) if score.ticks_per_quarter != TICKS_PER_BEAT else score
        if grid is not None:  # MidiTok wrote every bar as 4/4: bar b at beat 4b
            bar_ticks = BEATS_PER_BAR * TICKS_PER_BEAT
            for track in score.tracks:
                for note in track.notes:
                    bar = note.time // bar_ticks
                    note.time += (grid.start(bar) - bar * BEATS_PER_BAR) * TICKS_PER_BEAT
        return score

    def chords(self, ids: Sequence[int], grid: BarGrid = FOUR_FOUR) -> list[ChartChord]:
        """The chord tokens of a sequence with the beat each one sits on."""
        out = []
        for beat, i in self.timeline(ids, grid):
            if self.kind[i] == "Chord":
                root, quality = parse_chord_token(self.names[i])
                out.append(ChartChord(beat, root, quality))
        return out

    def timeline(self, ids: Sequence[int], grid: BarGrid = FOUR_FOUR) -> list[tuple[float, int]]:
        """(beat, id) per token: the beat-grid clock that Bar and Position tokens advance (bars of
        `grid`, else 4/4)."""
        bar, pos, out = -1, 0, []
        for i in ids:
            if i == self.bar:
                bar, pos = bar + 1, 0
            elif self.position_of[i] >= 0:
                pos = int(self.position_of[i])
            out.append((grid.start(max(bar, 0)) + pos / RESOLUTION, int(i)))
        return out


def splice_chords(tokens: list[str], chart: Sequence[ChartChord]) -> list[str]:
    """Insert each chart chord after the Position token of its beat (adding that Position if absent).

    Chords are snapped to the position grid; two chords on one position keep the later; a chord that
    repeats the one sounding is dropped (a chord token always means a change).
    """
    on_step: dict[int, ChartChord] = {}
    for chord in sorted(chart):  # one chord per grid step: the later wins
        on_step[round(chord.beat * RESOLUTION)] = chord
    wanted: dict[tuple[int, int], str] = {}
    sounding = None
    for step in sorted(on_step):
        chord = on_step[step]
        if chord.name != sounding:
            wanted[(step // POSITIONS_PER_BAR, step % POSITIONS_PER_BAR)] = chord_token(chord.root, chord.quality)
            sounding = chord.name
    pending = sorted(wanted.items())
    out: list[str] = []
    bar, k = -1, 0

    def flush(upto: tuple[int, int], inclusive: bool) -> None:
        nonlocal k
        while k < len(pending) and (pending[k][0] < upto or (inclusive and pending[k][0] == upto)):
            (b, p), name = pending[k]
            if b == bar:  # only chords of the bar we are in can be placed (bars are all emitted)
                out.extend([f"Position_{p}", name])
            k += 1

    for tok in tokens:
        if tok == "Bar_None":
            flush((bar, POSITIONS_PER_BAR), True)
            bar += 1
            out.append(tok)
            continue
        if tok.startswith("Position_"):
            p = int(tok.split("_")[1])
            flush((bar, p), False)
            out.append(tok)
            if k < len(pending) and pending[k][0] == (bar, p):
                out.append(pending[k][1])
                k += 1
            continue
        out.append(tok)
    flush((bar, POSITIONS_PER_BAR), True)
    return out


def chart_from_labels(chords: Sequence[Any]) -> list[ChartChord]:
    """Our ChartChords from corpus v2 label chords (corpus.layout.ChartChord: onset_beat, root_pc, quality)."""
    out = []
    for c in chords:
        quality = str(c.quality)
        out.append(ChartChord(float(c.onset_beat), int(c.root_pc) % 12,
                              quality if quality in QUALITIES else NO_CHORD))
    return out

"""The MMA groove library as data: which grooves exist, their family, kind (base/intro/fill/end) and meter.

MMA (Musical MIDI Accompaniment, Debian's `mma`) is a build-time tool: this module only reads its style
files as text, it never imports MMA. A style file (`stdlib/ballad.mma`) is one groove *family*; its
`DefGroove NAME` lines define grooves, and the meter is the last `Time N` line before each definition
(INFRA-NOTES: `TimeSig` is only the notation, `Time` is what MMA plays).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_STDLIB = Path("/usr/share/mma/lib/stdlib")
# Metronome files are click tracks (drums only, no harmony); `none` plays nothing.
EXCLUDED_FAMILIES = frozenset({"metronome", "metronome3", "metronome6", "metronome68", "none"})

_DEF = re.compile(r"^\s*DefGroove\s+(\S+)", re.IGNORECASE)
_TIME = re.compile(r"^\s*Time\s+(\d+)\b", re.IGNORECASE)

# A groove's natural tempo range, from words in its family name (first match wins); BPM in quarters.
_TEMPO_HINTS: tuple[tuple[tuple[str, ...], tuple[int, int]], ...] = (
    (("slow", "ballad", "lullaby", "hymn", "spiritual", "nitejazz", "mellow", "evans"), (60, 92)),
    (("fast", "bebop", "quickstep", "bluegrass", "polka", "ska", "jive", "charleston", "dixie", "trance"), (130, 180)),
    (("waltz",), (84, 160)),
    (("march",), (96, 128)),
    (("bossa", "rhumba", "bolero", "beguine", "tango", "chacha", "samba", "mambo", "salsa", "son",
      "merengue", "calypso", "afro", "latin"), (90, 140)),
    (("swing", "jazz", "foxtrot", "broadway", "showtune", "softshoe", "strut", "bigband"), (96, 160)),
    (("rock", "beat", "pop", "funk", "soul", "rb", "twist", "zydeco", "boneym", "desert"), (96, 150)),
)
DEFAULT_TEMPO_RANGE = (80, 140)


@dataclass(frozen=True)
class Groove:
    name: str
    family: str  # the style file's stem, e.g. "bossanova"
    kind: str  # "base" | "intro" | "fill" | "end"
    beats_per_bar: int  # quarter-note beats per bar, as MMA's `Time` plays it


@dataclass(frozen=True)
class GrooveFamily:
    name: str
    beats_per_bar: int
    tempo_range: tuple[int, int]
    base: tuple[str, ...]
    intro: tuple[str, ...]
    fill: tuple[str, ...]
    end: tuple[str, ...]


def groove_kind(name: str) -> str:
    lowered = name.lower()
    for kind in ("intro", "fill", "end"):
        if kind in lowered:
            return kind
    return "base"


def tempo_range_for(family: str) -> tuple[int, int]:
    for words, bpm_range in _TEMPO_HINTS:
        if any(w in family for w in words):
            return bpm_range
    return DEFAULT_TEMPO_RANGE


def parse_style_file(path: Path) -> list[Groove]:
    """Grooves defined in one MMA style file, each with the meter in force where it is defined."""
    family = path.stem.lower()
    beats = 4
    grooves: list[Groove] = []
    for line in path.read_text(errors="replace").splitlines():
        if m := _TIME.match(line):
            beats = int(m.group(1))
        elif m := _DEF.match(line):
            grooves.append(Groove(m.group(1), family, groove_kind(m.group(1)), beats))
    return grooves


def load_groove_library(stdlib: Path = DEFAULT_STDLIB) -> list[Groove]:
    """Every groove of the library's style files, sorted, metronome/none families left out."""
    if not stdlib.is_dir():
        raise FileNotFoundError(f"{stdlib}: MMA's style library is missing (install Debian's `mma`)")
    grooves: list[Groove] = []
    for path in sorted(stdlib.glob("*.mma")):
        if path.stem.lower() not in EXCLUDED_FAMILIES:
            grooves.extend(parse_style_file(path))
    return grooves


def groove_families(grooves: list[Groove]) -> dict[str, GrooveFamily]:
    """Families with at least one base groove; each keeps the grooves that share its main meter."""
    by_family: dict[str, list[Groove]] = {}
    for g in grooves:
        by_family.setdefault(g.family, []).append(g)
    out: dict[str, GrooveFamily] = {}
    for name, members in sorted(by_family.items()):
        base = [g for g in members if g.kind == "base"]
        if not base:
            continue
        beats = base[0].beats_per_bar
        same = [g for g in members if g.beats_per_bar == beats]

        def names(kind: str, same: list[Groove] = same) -> tuple[str, ...]:
            return tuple(g.name for g in same if g.kind == kind)

        out[name] = GrooveFamily(name, beats, tempo_range_for(name), names("base"), names("intro"),
                                 names("fill"), names("end"))
    return out


# ---- which grooves play the chart they are given -------------------------------------------------
# A groove whose chord tracks strike once a bar cannot sound a chord that starts half way through it,
# and one that anticipates (pushes) the next bar's chord sounds it early. Each groove is auditioned on
# a test chart of alternating C and F# (no pitch class in common) and kept only at the harmonic rhythm
# it really plays: the chart labels are true only for those.

PROBE_BARS = 4  # bars of each test: one chord a bar, then two a bar
PROBE_TEMPO = 120
_PROBE_CHORDS = ((0, (0, 4, 7)), (6, (6, 10, 1)))  # C and F# major


def probe_script(grooves: list[str], beats_per_bar: int) -> str:
    """An MMA script that plays each groove over the one-a-bar test, then the two-a-bar test."""
    half = (beats_per_bar + 1) // 2
    lines = ["RndSeed 1", f"Tempo {PROBE_TEMPO}"]  # a seeded audition gives the same verdict every build
    bar = 1
    for g in grooves:
        lines += [f"Groove {g}", "Seq", "AllTracks RTime 0", "AllTracks Chord Strum 0"]
        for j in range(PROBE_BARS):
            tokens = ["/"] * beats_per_bar
            tokens[0] = "C" if j % 2 == 0 else "F#"
            lines.append(f"{bar} " + " ".join(tokens))
            bar += 1
        for _ in range(PROBE_BARS):
            tokens = ["/"] * beats_per_bar
            tokens[0], tokens[half] = "C", "F#"
            lines.append(f"{bar} " + " ".join(tokens))
            bar += 1
    return "\n".join(lines) + "\n"


def _span_ok(onsets: list[tuple[int, float]], sounding: np.ndarray, pcs: set[int]) -> bool:
    """Onsets in the span are chord tones (>= 90 %) and the sound is mostly the chord (>= 70 %)."""
    if not onsets:
        return False
    inside = sum(w for pc, w in onsets if pc in pcs) / sum(w for _, w in onsets)
    total = float(sounding.sum())
    heard = float(sounding[list(pcs)].sum()) / total if total > 0 else 0.0
    return inside >= 0.9 and heard >= 0.7


def audition(score: object, grooves: list[str], beats_per_bar: int) -> dict[str, str]:
    """Each groove's harmonic rhythm in a rendered probe_script: "half", "bar" or "none".

    `score` is the symusic Score MMA wrote for probe_script(grooves, beats_per_bar).
    """
    tpq = score.ticks_per_quarter  # type: ignore[attr-defined]
    bar_ticks = beats_per_bar * tpq
    half_ticks = ((beats_per_bar + 1) // 2) * tpq
    notes = [(n.time, n.time + n.duration, n.pitch % 12)
             for t in score.tracks if not t.is_drum for n in t.notes]  # type: ignore[attr-defined]
    starts = np.array([n[0] for n in notes]) if notes else np.zeros(0)
    ends = np.array([n[1] for n in notes]) if notes else np.zeros(0)
    pcs_arr = np.array([n[2] for n in notes]) if notes else np.zeros(0, dtype=int)

    def span(t0: int, t1: int, chord: int) -> bool:
        on = (starts >= t0) & (starts < t1)
        onsets = [(int(pc), 1.0) for pc in pcs_arr[on]]
        overlap = np.clip(np.minimum(ends, t1) - np.maximum(starts, t0), 0, None)
        sounding = np.bincount(pcs_arr, weights=overlap, minlength=12) if notes else np.zeros(12)
        return _span_ok(onsets, sounding, set(_PROBE_CHORDS[chord][1]))

    out: dict[str, str] = {}
    for k, g in enumerate(grooves):
        first = k * 2 * PROBE_BARS * bar_ticks
        bar_ok = all(span(first + j * bar_ticks, first + (j + 1) * bar_ticks, j % 2) for j in range(PROBE_BARS))
        second = first + PROBE_BARS * bar_ticks
        half_ok = all(
            span(second + j * bar_ticks, second + j * bar_ticks + half_ticks, 0)
            and span(second + j * bar_ticks + half_ticks, second + (j + 1) * bar_ticks, 1)
            for j in range(PROBE_BARS)
        )
        out[g] = "half" if bar_ok and half_ok else "bar" if bar_ok else "none"
    return out


def playable(family: GrooveFamily, rhythm: dict[str, str]) -> GrooveFamily | None:
    """The family with only the base and fill grooves that play their chart; None if no base groove does."""
    base = tuple(g for g in family.base if rhythm.get(g, "none") != "none")
    if not base:
        return None
    fill = tuple(g for g in family.fill if rhythm.get(g, "none") != "none")
    return GrooveFamily(family.name, family.beats_per_bar, family.tempo_range, base, family.intro, fill, family.end)

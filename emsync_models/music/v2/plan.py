"""The plan before the notes: sections, each with a tempo, key, mode, intensity, drums and a theme.

A film composer spots a long picture before writing: where the music turns (a strong change of
feeling at a cut), what each stretch is (tempo, key, how loud and busy, with or without drums), and
which melody belongs to which feeling, so that a feeling that comes back brings its theme back. This
module makes that plan from the per-scene valence/arousal and the kept cuts alone (everything comes
from the request, so the same request always gives the same plan). It knows nothing of the model.

- A scene's *feeling* is its valence band and arousal band (nine feelings). Runs of scenes with one
  feeling are sections; a run shorter than `min_section_s` joins the neighbour nearest in feeling, and
  a section longer than `max_section_s` is split at the kept cuts nearest equal parts.
- Each section's tempo comes from its own arousal, its mode from its own valence. Its key is related
  to the previous section's (relative major/minor on a change of mode, the dominant when arousal rises,
  the subdominant when it falls), so a modulation moves to a neighbouring key a V7 can prepare; a
  section whose feeling came before returns to that feeling's key, bringing its theme back home.
- A feeling's first section states its theme; later sections of that feeling restate it, varied.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from emsync_models.music.v2.hitpoints import MAX_BPM, MIN_BPM, base_tempo
from emsync_models.music.v2.remi import NOTE_NAMES

Span = tuple[float, float, float, float]  # a scene: start, end, valence, arousal

MIN_SECTION_S = 20.0
MAX_SECTION_S = 150.0
SNAP_S = 4.0  # a section boundary moves onto a kept cut this close, so it is a hit point already
MAX_TEMPO_RATIO = 1.35  # neighbouring sections' tempi differ by at most this factor
AROUSAL_BANDS = (-0.2, 0.25)  # calm | moderate | excited
VALENCE_BANDS = (-0.2, 0.2)  # negative | neutral | positive
DRUMS_FROM_AROUSAL = -0.2
KEY_TURN_AROUSAL = 0.25  # an arousal step this large between sections moves the key by a fifth


@dataclass(frozen=True)
class Section:
    index: int
    start_s: float
    end_s: float
    valence: float  # duration-weighted mean of its scenes
    arousal: float
    feeling: int  # 0..8: valence band x arousal band
    bpm: float  # the section's requested tempo (hit points bend it locally)
    key: int  # tonic, semitones above the piece's key (0..11)
    minor: bool
    intensity: float  # 0..1, from arousal: dynamics and the drums' presence follow it
    drums: bool
    theme: int  # the feeling's theme
    restates: int  # 0: states its theme; k: the k-th return of it

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def key_name(self, piece_key: int = 0) -> str:
        return f"{NOTE_NAMES[(self.key + piece_key) % 12]} {'minor' if self.minor else 'major'}"

    def to_dict(self, piece_key: int = 0) -> dict:
        out = asdict(self)
        out.update(key_name=self.key_name(piece_key), start_s=round(self.start_s, 3), end_s=round(self.end_s, 3),
                   valence=round(self.valence, 4), arousal=round(self.arousal, 4), bpm=round(self.bpm, 2),
                   intensity=round(self.intensity, 4))
        return out


def feeling_of(valence: float, arousal: float) -> int:
    """Nine feelings: valence band (negative, neutral, positive) x arousal band (calm, moderate, excited)."""
    return 3 * bisect.bisect_right(VALENCE_BANDS, valence) + bisect.bisect_right(AROUSAL_BANDS, arousal)


def scene_spans(trajectory: Sequence[tuple[float, float, float]], duration_s: float) -> list[Span]:
    """(start, end, valence, arousal) of each scene of a piecewise-constant trajectory, clipped to the piece."""
    out = []
    for i, (start, v, a) in enumerate(trajectory):
        end = trajectory[i + 1][0] if i + 1 < len(trajectory) else duration_s
        start, end = max(start, 0.0), min(end, duration_s)
        if end > start:
            out.append((start, end, float(v), float(a)))
    return out


def _mean(spans: Sequence[Span]) -> tuple[float, float]:
    total = sum(e - s for s, e, _, _ in spans) or 1.0
    return (sum((e - s) * v for s, e, v, _ in spans) / total, sum((e - s) * a for s, e, _, a in spans) / total)


def _runs(spans: list[Span]) -> list[list[Span]]:
    runs: list[list[Span]] = []
    for span in spans:
        if runs and feeling_of(*_mean(runs[-1])) == feeling_of(span[2], span[3]):
            runs[-1].append(span)
        else:
            runs.append([span])
    return runs


def _absorb_short(runs: list[list[Span]], min_s: float) -> list[list[Span]]:
    """Join each run shorter than `min_s` to the neighbour whose mean feeling is nearest, shortest first."""
    runs = [list(r) for r in runs]
    while len(runs) > 1:
        lengths = [r[-1][1] - r[0][0] for r in runs]
        i = min(range(len(runs)), key=lambda k: (lengths[k], k))
        if lengths[i] >= min_s:
            break
        v, a = _mean(runs[i])
        options = [j for j in (i - 1, i + 1) if 0 <= j < len(runs)]
        j = min(options, key=lambda k: (math.dist((v, a), _mean(runs[k])), k))
        lo, hi = min(i, j), max(i, j)
        runs[lo:hi + 1] = [runs[lo] + runs[hi]]
    joined: list[list[Span]] = []
    for run in runs:  # neighbours that now share a feeling are one section
        if joined and feeling_of(*_mean(joined[-1])) == feeling_of(*_mean(run)):
            joined[-1].extend(run)
        else:
            joined.append(run)
    return joined


def _split_points(start: float, end: float, cuts: Sequence[float], max_s: float) -> list[float]:
    """Boundaries that cut [start, end) into parts of at most about `max_s`, on kept cuts where one is near."""
    parts = math.ceil((end - start) / max_s - 1e-9)
    out = []
    for k in range(1, parts):
        target = start + (end - start) * k / parts
        inside = [c for c in cuts if start + MIN_SECTION_S <= c <= end - MIN_SECTION_S]
        near = min(inside, key=lambda c: abs(c - target), default=None)
        point = near if near is not None and abs(near - target) <= max_s / 4 else target
        if not out or point - out[-1] >= MIN_SECTION_S:
            out.append(point)
    return out


def _snap(t: float, cuts: Sequence[float]) -> float:
    near = min(cuts, key=lambda c: abs(c - t), default=None)
    return near if near is not None and abs(near - t) <= SNAP_S else t


def _next_key(prev: Section, minor: bool, arousal: float) -> int:
    if minor != prev.minor:  # relative key: the same notes, the other tonic
        return (prev.key + (9 if minor else 3)) % 12
    if arousal - prev.arousal >= KEY_TURN_AROUSAL:  # lift: up to the dominant
        return (prev.key + 7) % 12
    if prev.arousal - arousal >= KEY_TURN_AROUSAL:  # settle: to the subdominant
        return (prev.key + 5) % 12
    return prev.key


def plan_sections(
    trajectory: Sequence[tuple[float, float, float]],
    cuts_s: Sequence[float],
    duration_s: float,
    min_section_s: float = MIN_SECTION_S,
    max_section_s: float = MAX_SECTION_S,
) -> list[Section]:
    """Sections for a piece of `duration_s` with kept cuts `cuts_s` and per-scene (start, V, A)."""
    spans = scene_spans(trajectory, duration_s) or [(0.0, duration_s, 0.0, 0.0)]
    cuts = sorted(c for c in cuts_s if 0.0 < c < duration_s)
    bounds = [0.0]
    for run in _absorb_short(_runs(spans), min_section_s)[1:]:
        point = _snap(run[0][0], cuts)
        if point - bounds[-1] >= min_section_s / 2 and duration_s - point >= min_section_s / 2:
            bounds.append(point)
    bounds.append(duration_s)
    edges = [0.0]
    for start, end in zip(bounds, bounds[1:], strict=False):
        edges.extend(_split_points(start, end, cuts, max_section_s))
        edges.append(end)
    sections: list[Section] = []
    homes: dict[int, tuple[int, int, float]] = {}  # feeling -> (key, times stated, its tempo)
    for i, (start, end) in enumerate(zip(edges, edges[1:], strict=False)):
        inside = [(max(s, start), min(e, end), v, a) for s, e, v, a in spans if e > start and s < end]
        v, a = _mean(inside) if inside else (0.0, 0.0)
        feeling, minor = feeling_of(v, a), v < 0
        bpm = base_tempo(a)
        if sections:  # no lurch between neighbours: the tempo moves by at most MAX_TEMPO_RATIO
            prev = sections[-1].bpm
            bpm = min(max(bpm, prev / MAX_TEMPO_RATIO), prev * MAX_TEMPO_RATIO)
        bpm = min(max(bpm, MIN_BPM), MAX_BPM)
        if feeling in homes:
            key, times, _ = homes[feeling]
            homes[feeling] = (key, times + 1, bpm)
            restates = times
        else:
            key = _next_key(sections[-1], minor, a) if sections else 0
            homes[feeling] = (key, 1, bpm)
            restates = 0
        sections.append(Section(i, start, end, v, a, feeling, bpm, key, minor,
                                (min(max(a, -1.0), 1.0) + 1.0) / 2.0, a > DRUMS_FROM_AROUSAL, feeling, restates))
    return sections


def section_at(sections: Sequence[Section], t: float) -> Section:
    starts = [s.start_s for s in sections]
    return sections[max(bisect.bisect_right(starts, t) - 1, 0)]


def plan_summary(sections: Sequence[Section], piece_key: int = 0) -> dict:
    """The plan as the JSON report carries it."""
    return {
        "sections": [s.to_dict(piece_key) for s in sections],
        "tempo_range_bpm": [round(min(s.bpm for s in sections), 2), round(max(s.bpm for s in sections), 2)]
        if sections else [],
        "key_changes": sum(1 for a, b in zip(sections, sections[1:], strict=False)
                           if (a.key, a.minor) != (b.key, b.minor)),
        "themes": sorted({s.theme for s in sections}),
        "returns": sum(1 for s in sections if s.restates > 0),
    }



def emotion_at_time(trajectory: Sequence[tuple[float, float, float]], t: float,
                    starts: Sequence[float] | None = None) -> tuple[float, float]:
    """(valence, arousal) of the scene sounding at `t`; pass the scenes' `starts` when asking often (a
    binary search: a long film has thousands of scenes and a piece asks once per token)."""
    starts = starts if starts is not None else [e[0] for e in trajectory]
    i = max(bisect.bisect_right(starts, t) - 1, 0)
    return float(trajectory[i][1]), float(trajectory[i][2])

"""music21's bundled corpus as training music: voices become LPD-5 instruments, tempo becomes seconds.

music21 ships its corpus inside the package, so this needs no download. Each score's parts map to a
family (string instruments -> strings, keyboards -> piano, guitars -> guitar, voices and everything
else -> piano) and the lowest part plays bass. Time is realised at the score's first metronome mark
(or `DEFAULT_BPM`, since most chorales have none) times a tempo factor; tempo changes are ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from emsync_models.music.notes import FAMILIES, Note

log = logging.getLogger(__name__)

DEFAULT_BPM = 80.0
# Composers whose works parse quickly and are mostly polyphonic (the folk collections are monophonic).
DEFAULT_COMPOSERS: tuple[str, ...] = ("bach", "monteverdi", "palestrina", "haydn", "mozart")
SCORE_SUFFIXES = (".mxl", ".xml", ".musicxml", ".krn", ".mid", ".midi")


@dataclass(frozen=True)
class Piece:
    name: str
    notes: tuple[Note, ...]
    bar_times: tuple[float, ...]
    duration_s: float


def corpus_paths(composers: Sequence[str] = DEFAULT_COMPOSERS, max_per_composer: int | None = None) -> list[str]:
    from music21 import corpus

    paths: list[str] = []
    for composer in composers:
        found = sorted(str(p) for p in corpus.getComposer(composer) if str(p).endswith(SCORE_SUFFIXES))
        paths.extend(found[:max_per_composer] if max_per_composer else found)
    return paths


def _family_for(part: object) -> int:
    from music21 import instrument

    inst = part.getInstrument(returnDefault=False)  # type: ignore[attr-defined]
    name = (inst.__class__.__name__ if inst is not None else "").lower()
    if isinstance(inst, instrument.StringInstrument) and "guitar" not in name or any(
        s in name for s in ("violin", "viola", "cello", "contrabass")
    ):
        return FAMILIES.index("strings")
    if "guitar" in name:
        return FAMILIES.index("guitar")
    return FAMILIES.index("piano")


def score_to_piece(path: str, tempo_factor: float = 1.0, max_parts: int = 6) -> Piece | None:
    """Parse one corpus file into a Piece (None if it has no usable notes)."""
    from music21 import converter, tempo

    score = converter.parse(path)
    if hasattr(score, "scores"):  # an Opus: keep its first score
        score = score.scores[0] if score.scores else score
    parts = list(score.parts) if score.parts else [score]
    parts = parts[:max_parts]
    marks = list(score.flatten().getElementsByClass(tempo.MetronomeMark))
    bpm = (marks[0].getQuarterBPM() if marks and marks[0].getQuarterBPM() else DEFAULT_BPM) * tempo_factor
    sec_per_ql = 60.0 / bpm
    part_notes: list[list[tuple[float, float, int]]] = []
    for part in parts:
        events: list[tuple[float, float, int]] = []
        for el in part.stripTies().flatten().notes:
            ql = float(el.quarterLength)
            if ql <= 0:
                continue  # grace notes carry no duration
            start = float(el.offset) * sec_per_ql
            for p in el.pitches:
                events.append((start, start + ql * sec_per_ql, int(p.midi)))
        part_notes.append(events)
    if not any(part_notes):
        return None
    mean_pitch = [sum(e[2] for e in ev) / len(ev) if ev else 999.0 for ev in part_notes]
    lowest = min(range(len(parts)), key=lambda i: mean_pitch[i]) if len(parts) > 1 else -1
    notes: list[Note] = []
    for i, (part, events) in enumerate(zip(parts, part_notes, strict=True)):
        family = FAMILIES.index("bass") if i == lowest else _family_for(part)
        notes.extend(Note(family, pitch, 80, s, e) for s, e, pitch in events)
    bars = sorted({float(m.offset) * sec_per_ql for m in parts[0].getElementsByClass("Measure")})
    end = max(n.end for n in notes)
    name = f"{Path(path).parent.name}/{Path(path).name}@{tempo_factor:g}"
    return Piece(name, tuple(sorted(notes, key=lambda n: n.start)), tuple(b for b in bars if b < end), end)


def retime(piece: Piece, tempo_factor: float) -> Piece:
    """The same piece played `tempo_factor` times faster."""
    k = 1.0 / tempo_factor
    notes = tuple(Note(n.family, n.pitch, n.velocity, n.start * k, n.end * k) for n in piece.notes)
    base = piece.name.rsplit("@", 1)[0]
    return Piece(f"{base}@{tempo_factor:g}", notes, tuple(b * k for b in piece.bar_times), piece.duration_s * k)


def _safe_parse(path: str) -> Piece | None:
    try:
        return score_to_piece(path)
    except Exception as exc:  # one unparsable corpus file should not stop the dataset
        log.warning("skipping %s: %s", path, exc)
        return None


def load_corpus(
    paths: Sequence[str], tempo_factors: Sequence[float] = (0.75, 1.0, 1.33), workers: int = 2
) -> Iterable[Piece]:
    """Parse corpus files (in `workers` processes), yielding one Piece per file and tempo factor."""
    if workers <= 1:
        parsed: Iterable[Piece | None] = map(_safe_parse, paths)
        for piece in parsed:
            if piece is not None:
                yield from (retime(piece, f) for f in tempo_factors)
        return
    from multiprocessing import get_context

    with get_context("spawn").Pool(workers) as pool:
        for piece in pool.imap(_safe_parse, paths, chunksize=4):
            if piece is not None:
                yield from (retime(piece, f) for f in tempo_factors)

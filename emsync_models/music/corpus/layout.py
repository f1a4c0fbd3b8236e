"""Music corpus v2 on disk: the manifest, the per-piece chart labels, and typed loaders.

Layout of a corpus folder DIR (documented in DATASHEET.md; keep it stable, the generator reads it):
- `DIR/manifest.jsonl`: one `PieceRow` per line (ok and failed pieces alike).
- `DIR/midi/<id>.mid`: the multitrack MIDI of every ok piece.
- `DIR/labels/<id>.json`: its exact chart (`PieceLabels`): chords, bar grid, tempo map, keys, sections.
- `DIR/build.json`: the build's seed, sources, tokenizer config and summary.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Chord qualities of the charts: intervals above the root, and the suffix MMA reads. MMA's `dim` is a
# diminished *seventh* (INFRA-NOTES), so the triad is written `mb5` and the seventh `dim7`.
QUALITY_INTERVALS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "dim": (0, 3, 6),
    "sus4": (0, 5, 7),
    "aug": (0, 4, 8),
}
MMA_SUFFIX = {"maj": "", "min": "m", "7": "7", "maj7": "maj7", "m7": "m7", "m7b5": "m7b5", "dim7": "dim7",
              "dim": "mb5", "sus4": "sus4", "aug": "aug"}
SOURCES = ("mma", "chorale", "romantext", "folk", "v1-score")
SECTION_KINDS = ("intro", "main", "fill", "end")
SPLITS = ("train", "val", "test")


def chord_symbol(root_pc: int, quality: str) -> str:
    """The chart's (and MMA's) spelling, e.g. (9, 'm7') -> 'Am7', (6, 'dim') -> 'F#mb5'."""
    return PITCH_NAMES[root_pc % 12] + MMA_SUFFIX[quality]


@dataclass(frozen=True)
class ChartChord:
    onset_beat: float
    duration_beats: float
    root_pc: int
    quality: str
    symbol: str


@dataclass(frozen=True)
class TempoPoint:
    beat: float
    bpm: float


@dataclass(frozen=True)
class KeyChange:
    beat: float
    tonic_pc: int
    mode: str  # "major" | "minor"


@dataclass(frozen=True)
class Section:
    beat: float
    kind: str  # one of SECTION_KINDS


@dataclass(frozen=True)
class PieceLabels:
    id: str
    beats_per_bar: int
    n_bars: int
    chords: tuple[ChartChord, ...]
    tempo_map: tuple[TempoPoint, ...]
    keys: tuple[KeyChange, ...]
    sections: tuple[Section, ...]
    chord_source: str  # "chart" (written into the music) or "analysis" (real scores, analysed)

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(data: dict) -> PieceLabels:
        return PieceLabels(
            id=data["id"],
            beats_per_bar=int(data["beats_per_bar"]),
            n_bars=int(data["n_bars"]),
            chords=tuple(ChartChord(**c) for c in data["chords"]),
            tempo_map=tuple(TempoPoint(**t) for t in data["tempo_map"]),
            keys=tuple(KeyChange(**k) for k in data["keys"]),
            sections=tuple(Section(**s) for s in data["sections"]),
            chord_source=data["chord_source"],
        )

    def beat_to_seconds(self, beat: float) -> float:
        """Seconds at `beat`, integrating the tempo map (tempo changes take effect at their beat)."""
        t, prev_beat, bpm = 0.0, 0.0, self.tempo_map[0].bpm
        for point in self.tempo_map[1:]:
            if point.beat >= beat:
                break
            t += (point.beat - prev_beat) * 60.0 / bpm
            prev_beat, bpm = point.beat, point.bpm
        return t + (beat - prev_beat) * 60.0 / bpm


@dataclass(frozen=True)
class PieceRow:
    id: str
    source: str
    source_item: str  # the progression or tune the split is keyed on
    groove: str
    groove_family: str
    tempo_bpm: float  # the opening tempo
    tonic_pc: int  # the opening key
    mode: str
    time_signature: str
    beats_per_bar: int
    n_bars: int
    duration_s: float
    split: str
    valence: float  # proxy in [-1, 1], see DATASHEET.md
    arousal: float  # proxy in [-1, 1]
    token_count: int
    has_melody: bool
    programs: tuple[int, ...]  # GM programs of the pitched tracks (drums left out)
    status: str  # "ok" | "failed"
    reason: str  # why it failed; "" when ok

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(data: dict) -> PieceRow:
        names = {f.name for f in fields(PieceRow)}
        row = {k: v for k, v in data.items() if k in names}
        row["programs"] = tuple(row.get("programs", ()))
        return PieceRow(**row)


MANIFEST = "manifest.jsonl"


def midi_path(corpus_dir: Path, piece_id: str) -> Path:
    return Path(corpus_dir) / "midi" / f"{piece_id}.mid"


def labels_path(corpus_dir: Path, piece_id: str) -> Path:
    return Path(corpus_dir) / "labels" / f"{piece_id}.json"


def read_manifest_lines(path: Path) -> list[dict]:
    """Rows of a manifest file; a torn last line (a killed build) is ignored."""
    rows: list[dict] = []
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def load_manifest(corpus_dir: Path | str, status: str | None = "ok") -> list[PieceRow]:
    """The manifest's rows (by default only the ok pieces), in id order."""
    path = Path(corpus_dir) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{corpus_dir}: no {MANIFEST} (not a music corpus v2 folder)")
    rows = [PieceRow.from_json(r) for r in read_manifest_lines(path)]
    if status is not None:
        rows = [r for r in rows if r.status == status]
    return sorted(rows, key=lambda r: r.id)


@dataclass(frozen=True)
class LoadedPiece:
    row: PieceRow
    labels: PieceLabels
    midi_path: Path


def load_piece(corpus_dir: Path | str, piece_id: str, row: PieceRow | None = None) -> LoadedPiece:
    """One piece's manifest row, chart labels and MIDI path (read the MIDI with symusic or pretty_midi)."""
    corpus_dir = Path(corpus_dir)
    if row is None:
        matches = [r for r in load_manifest(corpus_dir, status=None) if r.id == piece_id]
        if not matches:
            raise KeyError(f"{corpus_dir}: no piece {piece_id!r} in the manifest")
        row = matches[-1]
    if row.status != "ok":
        raise ValueError(f"{corpus_dir}: piece {piece_id!r} failed to build ({row.reason})")
    labels = PieceLabels.from_json(json.loads(labels_path(corpus_dir, piece_id).read_text()))
    return LoadedPiece(row, labels, midi_path(corpus_dir, piece_id))

"""The paper's real data: Lakh Pianoroll Dataset LPD-5 (.npz, pypianoroll format) + Spotify labels.

midi-emotion/EMSYNC train on LPD-5 tracks matched to Spotify's valence and energy (0..1); here they
become valence and arousal in [-1, 1]. The .npz layout read here is pypianoroll's: per track i,
`pianoroll_{i}_csc_{data,indices,indptr,shape}` (a time x 128 sparse matrix), `tempo` (bpm per
step), optional `downbeat`, and an `info.json` member with `beat_resolution` and per-track
`{"program", "is_drum", "name"}`.
"""

from __future__ import annotations

import csv
import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from emsync_models.music.notes import Note, family_of
from emsync_models.music.v1.corpus import Piece
from emsync_models.music.v1.dataset import TokenCorpus, build_corpus

log = logging.getLogger(__name__)

ID_COLUMNS = ("id", "track_id", "msd_id", "md5", "lpd_id", "file")


def _step_times(tempo: np.ndarray, resolution: int, n_steps: int) -> np.ndarray:
    """Onset time (s) of every step 0..n_steps, from a per-step tempo (padded with its last value)."""
    tempo = np.asarray(tempo, dtype=np.float64).reshape(-1)
    if tempo.size == 0:
        tempo = np.array([120.0])
    if tempo.size < n_steps:
        tempo = np.concatenate([tempo, np.full(n_steps - tempo.size, tempo[-1])])
    step_s = 60.0 / (tempo[:n_steps] * resolution)
    return np.concatenate([[0.0], np.cumsum(step_s)])


def read_pianoroll_npz(path: Path) -> Piece:
    """One LPD-5 .npz as a Piece (runs of a held pitch become notes; booleans play at velocity 100)."""
    with zipfile.ZipFile(path) as zf:
        info = json.loads(zf.read("info.json"))
    resolution = int(info.get("beat_resolution", info.get("resolution", 24)))
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    from scipy.sparse import csc_matrix

    rolls = []
    i = 0
    while f"pianoroll_{i}_csc_data" in arrays:
        shape = tuple(int(x) for x in arrays[f"pianoroll_{i}_csc_shape"])
        roll = csc_matrix(
            (arrays[f"pianoroll_{i}_csc_data"], arrays[f"pianoroll_{i}_csc_indices"],
             arrays[f"pianoroll_{i}_csc_indptr"]),
            shape=shape,
        ).toarray()
        meta = info.get(str(i), {})
        rolls.append((roll, int(meta.get("program", 0)), bool(meta.get("is_drum", False))))
        i += 1
    n_steps = max((r[0].shape[0] for r in rolls), default=0)
    times = _step_times(arrays.get("tempo", np.array([120.0])), resolution, n_steps)
    notes: list[Note] = []
    import pretty_midi

    for roll, program, is_drum in rolls:
        family = family_of(pretty_midi.Instrument(program=program, is_drum=is_drum))
        velocity = roll.astype(np.float64)
        if roll.dtype == bool:
            velocity = velocity * 100
        active = np.pad(velocity > 0, ((1, 1), (0, 0)))
        for pitch in np.flatnonzero(active.any(axis=0)):
            edges = np.diff(active[:, pitch].astype(np.int8))
            for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
                vel = int(np.clip(velocity[s, pitch], 1, 127))
                notes.append(Note(family, int(pitch), vel, float(times[s]), float(times[e])))
    notes = [n for n in notes if 21 <= n.pitch <= 108 or n.family != 0]
    downbeat = arrays.get("downbeat")
    bars = tuple(float(times[s]) for s in np.flatnonzero(downbeat)) if downbeat is not None else ()
    duration = max((n.end for n in notes), default=0.0)
    return Piece(path.stem, tuple(sorted(notes, key=lambda n: n.start)), bars, duration)


def read_labels(csv_path: Path) -> dict[str, tuple[float, float]]:
    """id -> (valence, arousal) in [-1, 1] from a CSV with an id column plus valence and energy (0..1)."""
    with csv_path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        id_col = next((c for c in ID_COLUMNS if c in fields), None)
        if id_col is None or "valence" not in fields or "energy" not in fields:
            raise ValueError(f"{csv_path}: needs an id column ({'/'.join(ID_COLUMNS)}), valence and energy")
        labels: dict[str, tuple[float, float]] = {}
        for row in reader:
            row = {k.strip().lower(): v for k, v in row.items() if k}
            try:
                v, e = float(row["valence"]), float(row["energy"])
            except (TypeError, ValueError):
                continue  # a blank or malformed row: that track trains unlabeled
            labels[row[id_col].strip()] = (float(np.clip(2 * v - 1, -1, 1)), float(np.clip(2 * e - 1, -1, 1)))
    return labels


def _lpd_files(root: Path) -> Iterator[Path]:
    yield from sorted(root.rglob("*.npz"))


def _label_for(path: Path, labels: dict[str, tuple[float, float]]) -> tuple[float, float] | None:
    """LPD ids are the file stem (MIDI md5) or a parent folder (MSD track id): either may be in the CSV."""
    for key in (path.stem, *(p.name for p in path.parents)):
        if key in labels:
            return labels[key]
    return None


def prepare_lpd5_corpus(root: Path, labels_csv: Path, out_path: Path, rebuild: bool = False) -> TokenCorpus:
    """Tokenise every LPD-5 .npz under `root` with its Spotify labels; cache the corpus at `out_path`."""
    if out_path.exists() and not rebuild:
        return TokenCorpus.load(out_path)
    labels = read_labels(labels_csv)
    pieces, piece_labels = [], {}
    for path in _lpd_files(root):
        try:
            piece = read_pianoroll_npz(path)
        except (KeyError, ValueError, zipfile.BadZipFile) as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        if not piece.notes:
            continue
        pieces.append(piece)
        label = _label_for(path, labels)
        piece_labels[piece.name] = label if label is not None else (float("nan"), float("nan"))
    if not pieces:
        raise ValueError(f"{root}: no readable LPD-5 .npz files")
    if not any(not np.isnan(v[0]) for v in piece_labels.values()):
        raise ValueError(f"{labels_csv}: no row matches an LPD-5 file under {root}")
    corpus = build_corpus(pieces, labels=piece_labels)
    corpus.save(out_path)
    return corpus

"""Music metrics: boundary alignment, emotion control (Spearman), corpus statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import spearmanr

from emsync_models.music.analysis.descriptors import (
    inter_onset_intervals,
    music_descriptors,
    note_density,
    pitch_class_entropy,
    polyphony,
)
from emsync_models.music.notes import Note

ALIGN_TOLERANCE_S = 0.25


@dataclass(frozen=True)
class Alignment:
    boundaries: int
    hit_share: float  # share of boundaries with a chord change within the tolerance
    mean_abs_offset_s: float  # mean distance from a boundary to its nearest chord change

    def to_dict(self) -> dict:
        return asdict(self)


def boundary_alignment(
    boundaries: Sequence[Sequence[float]],
    changes: Sequence[Sequence[float]],
    tolerance_s: float = ALIGN_TOLERANCE_S,
    no_change_offset_s: float = 8.0,
) -> Alignment:
    """Pooled over pieces: boundaries[i] and changes[i] belong to piece i.

    A boundary with no chord change anywhere in its piece counts as `no_change_offset_s` away (the
    boundary cap), so a model that never changes chord is not rewarded with an empty mean.
    """
    dists: list[float] = []
    for bs, cs in zip(boundaries, changes, strict=True):
        c = np.asarray(cs, dtype=np.float64)
        for b in bs:
            dists.append(float(np.abs(c - b).min()) if c.size else no_change_offset_s)
    if not dists:
        return Alignment(0, float("nan"), float("nan"))
    d = np.minimum(np.asarray(dists), no_change_offset_s)
    return Alignment(len(dists), float((d <= tolerance_s).mean()), float(d.mean()))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho (NaN when either side is constant)."""
    if len(set(np.round(x, 9))) < 2 or len(set(np.round(y, 9))) < 2:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def corpus_statistics(pieces: Sequence[Sequence[Note]], durations: Sequence[float] | None = None) -> dict:
    """Means over pieces of pitch-class entropy, polyphony, note density and inter-onset intervals."""
    rows = []
    for i, notes in enumerate(pieces):
        if not any(n.family != 0 for n in notes):
            continue
        ioi = inter_onset_intervals(notes)
        rows.append(
            {
                "pitch_class_entropy_bits": pitch_class_entropy(notes),
                "polyphony": polyphony(notes),
                "note_density_per_s": note_density(notes, durations[i] if durations else None),
                "ioi_mean_s": float(ioi.mean()) if ioi.size else float("nan"),
                "ioi_median_s": float(np.median(ioi)) if ioi.size else float("nan"),
            }
        )
    if not rows:
        return {"pieces": 0}
    return {"pieces": len(rows), **mean_and_std(rows)}


def describe_corpus(pieces: Sequence[Sequence[Note]], durations: Sequence[float] | None = None) -> dict[str, float]:
    """Means (and `_std`) of `music_descriptors` over pieces; `pieces` counts them."""
    rows = [music_descriptors(p, durations[i] if durations else None).to_dict() for i, p in enumerate(pieces)]
    return {"pieces": float(len(rows)), **(mean_and_std(rows) if rows else {})}


def mean_and_std(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Per key of the rows: its mean and (as `key_std`) its standard deviation, NaN entries left out."""
    out: dict[str, float] = {}
    for key in rows[0]:
        values = np.array([r[key] for r in rows], dtype=np.float64)
        out[key] = float(np.nanmean(values))
        out[key + "_std"] = float(np.nanstd(values))
    return out

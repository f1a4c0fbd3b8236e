"""The fixed-shape arrays that cross from feature extraction to the fusion step (in-process or Triton).

For a batch of N windows (the whole video and each scene), every modality m contributes two arrays:

    m            float32 [N, STEPS, dim(m)]   features averaged into STEPS equal time buckets
    m + "_mask"  bool    [N, STEPS]           True where the bucket holds at least one valid step

A mask means "this extractor has a sample here", not "found something" (the face modality says
whether a face was found in its own last feature). A modality the video lacks (no audio track,
extractor not enabled) is all zeros
with an all-False mask; the fusion step masks it out. Shapes never depend on the video, so a Triton
model can declare them with a dynamic batch dimension only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from emsync_models.emotion.extractors.base import FeatureTrack

STEPS = 16

# Built-in modalities and their feature sizes (see each extractor's docstring for the layout).
CORE_DIMS: dict[str, int] = {"face": 9, "visual": 5, "audio": 25, "text": 392, "speech": 392}

FusedBatch = dict[str, np.ndarray]


def mask_key(modality: str) -> str:
    return f"{modality}_mask"


def pack_window(track: FeatureTrack, start_s: float, end_s: float, steps: int = STEPS) -> tuple[np.ndarray, np.ndarray]:
    """(float32 [steps, D], bool [steps]) for one modality over [start_s, end_s)."""
    dim = track.values.shape[1]
    values = np.zeros((steps, dim), np.float32)
    mask = np.zeros(steps, bool)
    span = end_s - start_s
    if span <= 0 or track.times_s.size == 0:
        return values, mask
    inside = (track.times_s >= start_s) & (track.times_s < end_s) & track.mask
    if not inside.any():
        return values, mask
    buckets = np.minimum(((track.times_s[inside] - start_s) / span * steps).astype(int), steps - 1)
    sums = np.zeros((steps, dim), np.float64)
    np.add.at(sums, buckets, track.values[inside])
    counts = np.bincount(buckets, minlength=steps)
    mask = counts > 0
    values[mask] = (sums[mask] / counts[mask, None]).astype(np.float32)
    return values, mask


def pack_batch(tracks: Mapping[str, FeatureTrack], windows: Sequence[tuple[float, float]],
               dims: Mapping[str, int], steps: int = STEPS) -> FusedBatch:
    """The fused batch for `windows` over every modality in `dims` (missing tracks -> masked zeros)."""
    batch: FusedBatch = {}
    for modality, dim in dims.items():
        values = np.zeros((len(windows), steps, dim), np.float32)
        masks = np.zeros((len(windows), steps), bool)
        track = tracks.get(modality)
        if track is not None:
            if track.values.shape[1] != dim:
                raise ValueError(f"{modality}: track has dim {track.values.shape[1]}, expected {dim}")
            for i, (start, end) in enumerate(windows):
                values[i], masks[i] = pack_window(track, start, end, steps)
        batch[modality] = values
        batch[mask_key(modality)] = masks
    return batch


def concat_batches(batches: Sequence[FusedBatch]) -> FusedBatch:
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}

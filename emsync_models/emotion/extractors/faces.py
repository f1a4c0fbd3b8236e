"""Face-expression features: MTCNN finds faces and their landmarks, mini-Xception reads the aligned faces.

Per sampled frame: the FER7 probabilities (a weighted mean over the faces found), the area fraction
of the largest face, and the frame's face weight. A face's weight is its detection probability times
how much of the frame it fills (full weight from `FULL_SHARE` of the frame up): a confident close-up
speaks for the scene, a small or doubtful face in a crowd barely does. Frames without a face keep
their step (mask True, zeros) so "no face here" is evidence too: the default head uses it for
coverage, and a trained fusion model can learn from it.

Crops are collected and classified in batches (one mini-Xception call per `batch` faces, not one
per frame): per-call overhead dominates at 64x64.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from emsync_models.emotion.extractors.base import Extractor, FeatureTrack
from emsync_models.emotion.extractors.mini_xception import (
    MiniXception,
    load_mini_xception,
    preprocess_faces,
)
from emsync_models.emotion.extractors.mtcnn import MTCNN, Face, align_face
from emsync_models.video.media import AudioChunk, VideoFrame

FACE_INPUT = 64
FULL_SHARE = 0.02   # a face covering 2 % of the frame (about 90x90 px at 640x360) counts fully


def face_weight(face: Face, frame_area: float) -> float:
    return float(face.prob * min(1.0, face.area / frame_area / FULL_SHARE))


class FaceExpressionExtractor(Extractor):
    """dim 9: [0:7] FER7 probabilities (angry, disgust, fear, happy, sad, surprise, neutral),
    [7] largest face's area fraction, [8] the frame's face weight in [0, 1] (0: no face, then [0:8]
    are zero)."""

    name = "face"
    version = "mini-xception-fer2013/mtcnn-aligned/v3"
    dim = 9
    input = "frames"

    def __init__(self, rate_hz: float = 1.0, max_faces: int = 4, model: MiniXception | None = None,
                 detector: MTCNN | None = None, detect_side: int = 360, batch: int = 32) -> None:
        self.rate_hz = rate_hz
        self.max_faces = max_faces
        self.model = model or load_mini_xception()
        # MTCNN's pyramid cost grows with pixels: detect on a copy whose long side is `detect_side`,
        # which still finds faces of about 1/15 of the frame height.
        self.detector = detector or MTCNN(min_face=20)
        self.detect_side = detect_side
        self.batch = batch
        self.begin()

    def begin(self) -> None:
        self._times: list[float] = []
        self._rows: list[np.ndarray] = []
        self._mask: list[bool] = []
        # Pending crops: (row index, weight, crop); classified in batches.
        self._pending: list[tuple[int, float, np.ndarray]] = []

    def faces(self, rgb: np.ndarray) -> tuple[list[Face], np.ndarray]:
        """Faces found (boxes and landmarks in `rgb`'s pixels) and the grey frame."""
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        scale = min(1.0, self.detect_side / max(rgb.shape[:2]))
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        found = self.detector.detect(small)[: self.max_faces]
        if scale < 1:
            found = [Face(tuple(v / scale for v in f.box), f.prob, f.landmarks / scale) for f in found]
        return found, grey

    def add(self, item: VideoFrame | AudioChunk) -> None:
        assert isinstance(item, VideoFrame)
        found, grey = self.faces(item.rgb)
        row = np.zeros(self.dim, np.float32)
        index = len(self._rows)
        frame_area = float(grey.size)
        weights = [face_weight(f, frame_area) for f in found]
        if found and max(weights) > 0:
            row[7] = max(f.area for f in found) / frame_area
            row[8] = max(weights)
            for face, w in zip(found, weights, strict=True):
                self._pending.append((index, w, align_face(grey, face, FACE_INPUT)))
        self._times.append(item.t)
        self._rows.append(row)
        self._mask.append(True)
        if len(self._pending) >= self.batch:
            self._classify()

    def _classify(self) -> None:
        if not self._pending:
            return
        crops = np.stack([c for _, _, c in self._pending])
        with torch.inference_mode():
            probs = self.model(preprocess_faces(crops)).numpy().astype(np.float64)
        sums: dict[int, np.ndarray] = {}
        totals: dict[int, float] = {}
        for (index, w, _), p in zip(self._pending, probs, strict=True):
            sums[index] = sums.get(index, 0.0) + w * p
            totals[index] = totals.get(index, 0.0) + w
        for index, s in sums.items():
            self._rows[index][:7] = s / max(totals[index], 1e-9)
        self._pending = []

    def finish(self, duration_s: float) -> FeatureTrack:
        self._classify()
        return FeatureTrack.from_rows(self._times, self._rows, self._mask, self.dim)

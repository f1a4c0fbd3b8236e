"""Face-expression features: OpenCV's bundled Haar cascade finds faces, mini-Xception reads them.

Per sampled frame: the FER7 probabilities (area-weighted mean over the faces found), the area
fraction of the largest face, and whether any face was found. Frames without a face keep their
step (mask True, probabilities zero, found = 0) so "no face here" is evidence too: the default head
uses it for coverage, and a trained fusion model can learn from it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from emsync_models.emotion.extractors.base import Extractor, FeatureTrack
from emsync_models.emotion.extractors.mini_xception import (
    MiniXception,
    load_mini_xception,
    preprocess_faces,
)
from emsync_models.emotion.sampling import AudioChunk, VideoFrame

FACE_INPUT = 64
HAAR_FRONTAL = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"


class FaceDetector:
    """Haar cascade (weights ship inside opencv-python). Returns (x, y, w, h) boxes, largest first."""

    def __init__(self, cascade: Path = HAAR_FRONTAL, min_side_frac: float = 0.08, detect_width: int = 400,
                 scale_factor: float = 1.2) -> None:
        self.cascade = cv2.CascadeClassifier(str(cascade))
        if self.cascade.empty():
            raise FileNotFoundError(f"{cascade}: cannot load the face cascade")
        self.min_side_frac = min_side_frac
        self.detect_width = detect_width
        self.scale_factor = scale_factor

    def detect(self, grey: np.ndarray) -> list[tuple[int, int, int, int]]:
        # The cascade's cost grows with pixels x scales; faces that matter for a scene's mood are
        # not tiny, so detecting on a smaller copy with a coarse scale step loses little.
        scale = min(1.0, self.detect_width / grey.shape[1])
        small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
        min_side = max(20, int(min(small.shape) * self.min_side_frac))
        boxes = self.cascade.detectMultiScale(small, scaleFactor=self.scale_factor, minNeighbors=6,
                                              minSize=(min_side, min_side))
        full = [tuple(int(round(v / scale)) for v in b) for b in boxes]
        return sorted(full, key=lambda b: -b[2] * b[3])


def crop_faces(grey: np.ndarray, boxes: list[tuple[int, int, int, int]], margin: float = 0.1) -> np.ndarray:
    """uint8 [N, 64, 64] crops; a small margin like `fer`'s offsets keeps the chin and brows in."""
    crops = []
    h, w = grey.shape
    for x, y, bw, bh in boxes:
        mx, my = int(bw * margin), int(bh * margin)
        x0, y0, x1, y1 = max(0, x - mx), max(0, y - my), min(w, x + bw + mx), min(h, y + bh + my)
        crops.append(cv2.resize(grey[y0:y1, x0:x1], (FACE_INPUT, FACE_INPUT), interpolation=cv2.INTER_AREA))
    return np.stack(crops) if crops else np.zeros((0, FACE_INPUT, FACE_INPUT), np.uint8)


class FaceExpressionExtractor(Extractor):
    """dim 9: [0:7] FER7 probabilities (angry, disgust, fear, happy, sad, surprise, neutral),
    [7] largest face's area fraction, [8] 1 if a face was found else 0 (then [0:8] are zero)."""

    name = "face"
    version = "mini-xception-fer2013/haar/v2"
    dim = 9
    input = "frames"

    def __init__(self, rate_hz: float = 1.0, max_faces: int = 4, model: MiniXception | None = None,
                 detector: FaceDetector | None = None) -> None:
        self.rate_hz = rate_hz
        self.max_faces = max_faces
        self.model = model or load_mini_xception()
        self.detector = detector or FaceDetector()
        self.begin()

    def begin(self) -> None:
        self._times: list[float] = []
        self._rows: list[np.ndarray] = []
        self._mask: list[bool] = []

    def probs_for_frame(self, rgb: np.ndarray) -> tuple[np.ndarray | None, float]:
        """(FER7 probabilities or None when no face, largest-face area fraction)."""
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        boxes = self.detector.detect(grey)[: self.max_faces]
        if not boxes:
            return None, 0.0
        with torch.inference_mode():
            probs = self.model(preprocess_faces(crop_faces(grey, boxes))).numpy()
        areas = np.array([bw * bh for _, _, bw, bh in boxes], np.float64)
        mean = (probs * (areas / areas.sum())[:, None]).sum(axis=0)
        return mean.astype(np.float32), float(areas[0] / grey.size)

    def add(self, item: VideoFrame | AudioChunk) -> None:
        assert isinstance(item, VideoFrame)
        probs, area = self.probs_for_frame(item.rgb)
        self._times.append(item.t)
        self._mask.append(True)
        if probs is None:
            self._rows.append(np.zeros(self.dim, np.float32))
        else:
            self._rows.append(np.concatenate([probs, [area, 1.0]]).astype(np.float32))

    def finish(self, duration_s: float) -> FeatureTrack:
        return FeatureTrack.from_rows(self._times, self._rows, self._mask, self.dim)

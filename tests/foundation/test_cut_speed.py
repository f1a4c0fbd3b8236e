"""The faster pixel distance the cut detector uses gives PySceneDetect's own numbers."""

from __future__ import annotations

import numpy as np
import scenedetect.detectors.content_detector as content_detector

import emsync_models.video.cuts as cuts

# PySceneDetect's own implementation (same formula as scenedetect 0.6.x/0.7), kept here as the reference.


def reference_distance(left: np.ndarray, right: np.ndarray) -> float:
    return float(np.sum(np.abs(left.astype(np.int32) - right.astype(np.int32)))) / float(left.shape[0] * left.shape[1])


def test_same_value_as_pyscenedetect_on_random_and_extreme_planes():
    rng = np.random.default_rng(0)
    planes = [rng.integers(0, 256, (144, 256), dtype=np.uint8) for _ in range(20)]
    planes += [np.zeros((144, 256), np.uint8), np.full((144, 256), 255, np.uint8)]
    for a, b in zip(planes[:-1], planes[1:], strict=True):
        assert cuts.mean_pixel_distance(a, b) == reference_distance(a, b)


def test_the_detector_module_uses_it():
    # A scenedetect upgrade that renames the hook must fail here, not silently run the slow path.
    assert content_detector._mean_pixel_distance is cuts.mean_pixel_distance

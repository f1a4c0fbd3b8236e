"""The faster pixel distance the cut detector uses gives PySceneDetect's own numbers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import scenedetect
import scenedetect.detectors.content_detector as content_detector

import emsync_models.video.cuts as cuts
from emsync_models.video.cut_config import CutConfig

# PySceneDetect's own implementation (same formula as scenedetect 0.6.x/0.7), kept here as the reference.


def reference_distance(left: np.ndarray, right: np.ndarray) -> float:
    return float(np.sum(np.abs(left.astype(np.int32) - right.astype(np.int32)))) / float(left.shape[0] * left.shape[1])


def test_same_value_as_pyscenedetect_on_random_and_extreme_planes():
    rng = np.random.default_rng(0)
    planes = [rng.integers(0, 256, (144, 256), dtype=np.uint8) for _ in range(20)]
    planes += [np.zeros((144, 256), np.uint8), np.full((144, 256), 255, np.uint8)]
    for a, b in zip(planes[:-1], planes[1:], strict=True):
        assert cuts.mean_pixel_distance(a, b) == reference_distance(a, b)


def test_importing_cuts_leaves_the_library_alone() -> None:
    # A fresh interpreter: this one may already have made a detector.
    code = ("import scenedetect.detectors.content_detector as cd, emsync_models.video.cuts as cuts; "
            "assert cd._mean_pixel_distance is cuts.LIBRARY_MEAN_PIXEL_DISTANCE; "
            "assert cd._mean_pixel_distance is not cuts.mean_pixel_distance")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_making_a_detector_installs_it_on_a_checked_release() -> None:
    cuts.make_detector(CutConfig(), 25.0)
    release = tuple(int(p) for p in scenedetect.__version__.split(".")[:2])
    # A scenedetect upgrade must fail here (add the release once checked), not silently run the slow path.
    assert release in cuts.FAST_DISTANCE_CHECKED
    assert content_detector._mean_pixel_distance is cuts.mean_pixel_distance

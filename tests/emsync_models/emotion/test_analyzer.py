"""End to end on a real video built from shipped photographs (no mocks of the analyzer)."""

from __future__ import annotations

import numpy as np
import pytest

from emsync_models.emotion.analyzer import EmotionAnalyzer, scene_windows, smooth_scenes
from emsync_models.emotion.api import EKMAN6, STEPS, load_analyzer
from emsync_models.emotion.cache import FeatureCache
from emsync_models.emotion.predictor import FusionPredictor
from emsync_models.errors import InputError


@pytest.fixture(scope="module")
def result(default_analyzer, astronaut_video):
    path, cuts, duration = astronaut_video
    return default_analyzer.analyze(path, cuts, duration)


def test_astronaut_scene_is_joy_dominant(result):
    face_scene = result.scenes[0].estimate
    print("astronaut scene probs", {k: round(v, 3) for k, v in face_scene.probs.items()},
          "confidence", round(face_scene.confidence, 3))
    assert face_scene.dominant == "joy"
    assert face_scene.probs["joy"] > 0.5
    assert face_scene.valence > 0.3
    assert result.overall.dominant == "joy"


def test_scene_without_face_is_less_confident_and_says_why(result):
    no_face = result.scenes[1].estimate
    print("no-face scene probs", {k: round(v, 3) for k, v in no_face.probs.items()},
          "confidence", round(no_face.confidence, 3), "why", result.scenes[1].why)
    # Colour and sound still say something (and the neighbouring face scene bleeds in by smoothing).
    assert no_face.confidence < 0.25
    assert max(no_face.probs.values()) < 0.5
    assert result.scenes[0].estimate.confidence > no_face.confidence + 0.1
    face = result.scenes[0].contributions["face"]
    assert face["emotion"] == "joy" and face["weight"] > 0.4 and "joy expression" in face["cues"]
    assert result.scenes[1].contributions["face"]["weight"] == 0
    assert any(line.startswith("faces:") for line in result.scenes[0].why)
    assert result.scenes[0].transcript == "" and result.scenes[0].on_screen_text == ""


def test_result_shape(result, astronaut_video):
    _, _, duration = astronaut_video
    assert [(s.start_s, s.end_s) for s in result.scenes] == [(0.0, 4.0), (4.0, duration)]
    for est in [result.overall, *(s.estimate for s in result.scenes)]:
        assert list(est.probs) == list(EKMAN6)
        assert sum(est.probs.values()) == pytest.approx(1.0)
        assert -1 <= est.valence <= 1 and -1 <= est.arousal <= 1 and 0 <= est.confidence <= 1
    assert set(result.extractors) == {"face", "visual", "audio", "speech"}
    assert result.model_name == "default-evidence"


def test_injected_predictor_sees_fixed_shape_arrays(default_analyzer, astronaut_video):
    """A Triton client stands in through the same call; check the documented contract."""
    path, cuts, duration = astronaut_video
    seen = []
    inner = FusionPredictor.default()

    def remote(batch):
        seen.append({k: (v.shape, v.dtype) for k, v in batch.items()})
        return inner(batch)

    analyzer = EmotionAnalyzer(default_analyzer.extractors, predictor=remote, model_name="triton",
                               model_version="1")
    out = analyzer.analyze(path, cuts, duration)
    assert out.model_name == "triton"
    (shapes,) = seen
    for name, dim in default_analyzer.dims.items():
        assert shapes[name] == ((3, STEPS, dim), np.float32)   # overall + 2 scenes
        assert shapes[f"{name}_mask"] == ((3, STEPS), np.bool_)


def test_feature_cache_is_reused(default_analyzer, astronaut_video, tmp_path):
    path, _, duration = astronaut_video
    analyzer = EmotionAnalyzer(default_analyzer.extractors, cache=FeatureCache(tmp_path))
    first = analyzer.extract(path, duration)
    files = sorted(tmp_path.rglob("*.npz"))
    assert len(files) == 4 and all(e.version.split("/")[-1] in "".join(f.name for f in files)
                                   for e in analyzer.extractors)
    analyzer.timings = {}
    second = analyzer.extract(path, duration)
    assert analyzer.timings == {}  # nothing was decoded
    for name in first:
        np.testing.assert_array_equal(first[name].values, second[name].values)


def test_scene_windows_and_smoothing():
    assert scene_windows([3.0, -1.0, 3.0, 9.0, 12.0], 10.0) == [(0.0, 3.0), (3.0, 9.0), (9.0, 10.0)]
    assert scene_windows([], 5.0) == [(0.0, 5.0)]
    probs = np.eye(6)[[3, 3, 4, 3]].astype(float)
    va = np.zeros((4, 2))
    smoothed, _ = smooth_scenes(probs, va, 0.25)
    np.testing.assert_allclose(smoothed.sum(1), 1.0)
    assert smoothed[2].argmax() == 4 and smoothed[2, 4] < 1.0  # the outlier survives, damped


def test_missing_video_is_an_input_error(default_analyzer, tmp_path):
    with pytest.raises(InputError):
        default_analyzer.analyze(tmp_path / "nope.mp4", [], 3.0)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(InputError):
        default_analyzer.analyze(bad, [], 3.0)


def test_load_analyzer_rejects_foreign_checkpoint(tmp_path):
    junk = tmp_path / "x.pt"
    junk.write_bytes(b"junk")
    with pytest.raises(ValueError):
        load_analyzer(fusion_checkpoint=junk, text=False)

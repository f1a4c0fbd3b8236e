"""Train the fusion model on a small dataset built here and check it really learns."""

from __future__ import annotations

import json

import numpy as np
import pytest
from emotion_media import make_class_dataset

from emsync_models.emotion.analyzer import EmotionAnalyzer
from emsync_models.emotion.api import load_analyzer
from emsync_models.emotion.cache import FeatureCache
from emsync_models.emotion.dataset import scan_dataset, stratified_split
from emsync_models.emotion.predictor import FusionPredictor, ekman_projection
from emsync_models.emotion.training import TrainConfig, train_emotion_classifier
from emsync_models.errors import InputError


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_class_dataset(tmp_path_factory.mktemp("emotion-dataset"), per_class=8)


@pytest.fixture(scope="module")
def trained(dataset, default_analyzer, tmp_path_factory):
    out = tmp_path_factory.mktemp("emotion-run")
    analyzer = EmotionAnalyzer(default_analyzer.extractors, cache=FeatureCache(out / "cache"))
    config = TrainConfig(epochs=40, fractions=(0.5, 0.25, 0.25), seed=0)
    return train_emotion_classifier(dataset, out, analyzer, config), analyzer


@pytest.mark.slow
def test_learns_well_above_chance(trained):
    result, _ = trained
    print(f"held-out accuracy {result.test_accuracy:.3f} (chance 0.333), val {result.val_accuracy:.3f}, "
          f"F1 {result.f1}, counts {result.counts}")
    assert result.counts == {"train": 12, "val": 6, "test": 6}
    assert result.test_accuracy >= 0.8
    assert min(result.f1.values()) > 0.5


@pytest.mark.slow
def test_writes_metrics_and_confusion_png(trained):
    result, _ = trained
    assert result.confusion_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads(result.metrics_json.read_text())
    assert metrics["labels"] == ["anger", "joy", "sadness"]
    assert np.array(metrics["confusion"]).sum() == 6


@pytest.mark.slow
def test_checkpoint_replaces_default_head(trained, astronaut_video):
    result, analyzer = trained
    predictor = FusionPredictor.from_checkpoint(result.checkpoint)
    assert predictor.name == "fusion-transformer" and predictor.labels == ["anger", "joy", "sadness"]
    loaded = load_analyzer(fusion_checkpoint=result.checkpoint, text=False)
    path, cuts, duration = astronaut_video
    out = loaded.analyze(path, cuts, duration)
    assert out.model_name == "fusion-transformer"
    assert sum(out.overall.probs.values()) == pytest.approx(1.0)
    # Classes outside the trained label set get no mass.
    assert out.overall.probs["fear"] == pytest.approx(0.0, abs=1e-6)
    spec = predictor.input_spec()
    assert ("face_mask", "bool", (16,)) in spec


def test_other_label_sets_project_onto_ekman():
    proj = ekman_projection(["anger", "anticipation", "Happy", "trust"])
    np.testing.assert_allclose(proj.sum(1), 1.0)
    assert proj[0, 0] == 1 and proj[2, 3] == 1 and np.allclose(proj[1], 1 / 6)


def test_stratified_split_keeps_classes_everywhere():
    targets = np.repeat([0, 1, 2], [10, 6, 4])
    train, val, test = stratified_split(targets, (0.6, 0.2, 0.2), seed=1)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(val) + len(test) == 20
    for split in (train, val, test):
        assert set(targets[split]) == {0, 1, 2}


def test_bad_dataset_layouts(tmp_path):
    with pytest.raises(InputError, match="is not a folder"):
        scan_dataset(tmp_path / "missing")
    (tmp_path / "joy").mkdir()
    (tmp_path / "joy" / "a.mp4").write_bytes(b"")
    (tmp_path / "joy" / "b.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="at least two class folders"):
        scan_dataset(tmp_path)
    (tmp_path / "sad").mkdir()
    (tmp_path / "sad" / "a.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="at least 2"):
        scan_dataset(tmp_path)

"""The emotion part of the JSON report and the PNG timeline carry the per-scene 'why'."""

from __future__ import annotations

import json

import matplotlib.axes
import pretty_midi

from emsync_models.emotion.results import EmotionEstimate, SceneEmotion, VideoEmotion
from emsync_models.plots import soundtrack_figure
from flows.soundtrack import video_emotion_to_dict


def estimate(v: float) -> EmotionEstimate:
    probs = {"anger": 0.5, "disgust": 0.1, "fear": 0.2, "joy": 0.05, "sadness": 0.1, "surprise": 0.05}
    return EmotionEstimate(probs, v, 0.5, 0.3)


def test_report_and_timeline_show_why(tmp_path, monkeypatch):
    why = ["speech: 'furious', 'terrified'", "colour/motion: dark, desaturated"]
    contributions = {"speech": {"weight": 0.6, "valence": -0.9, "emotion": "anger", "cues": ["'furious'"]}}
    result = VideoEmotion(estimate(-0.5), [SceneEmotion(0.0, 4.0, estimate(-0.5), transcript="i am furious",
                                                        contributions=contributions, why=why)],
                          "default-evidence", "default-evidence/v2", {"speech": "x"}, contributions)
    report = json.loads(json.dumps(video_emotion_to_dict(result)))
    scene = report["scenes"][0]
    assert scene["why"] == why and scene["transcript"] == "i am furious" and scene["on_screen_text"] == ""
    assert scene["contributions"]["speech"]["cues"] == ["'furious'"]
    assert report["overall"]["contributions"] == contributions

    drawn: list[str] = []
    original = matplotlib.axes.Axes.text

    def recording(self, x, y, s, *args, **kwargs):
        drawn.append(str(s))
        return original(self, x, y, s, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "text", recording)
    out = soundtrack_figure(report, [], 4.0, pretty_midi.PrettyMIDI(), [], tmp_path / "t.png")
    assert out.stat().st_size > 1000
    assert any("furious" in t and "dark" in t for t in drawn)

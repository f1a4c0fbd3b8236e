"""The picture for people: note names, confidence labelled and hidden when unsure, wrapped cues, a title."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pretty_midi
import pytest

from emsync_models.plots import UNSURE_BELOW, figure_title, note_ticks, scene_label, soundtrack_figure, wrap_cues


def test_a_scene_under_the_threshold_reads_unsure_and_others_name_their_confidence() -> None:
    probs = {"joy": 0.5, "disgust": 0.1}
    assert scene_label({"probs": probs, "confidence": UNSURE_BELOW / 2}) == "unsure"
    assert scene_label({"probs": probs, "confidence": 0.62}) == "joy, confidence 0.62"
    assert scene_label({"probs": None, "confidence": 1.0}) is None  # valence/arousal set by the user


def test_the_roll_is_labelled_with_note_names() -> None:
    ticks, names = note_ticks(40, 80)
    assert ticks == [48, 60, 72] and names == ["C3", "C4", "C5"]
    assert note_ticks(60, 66)[1] == ["C4", "D4", "E4", "F#4"]


def test_cues_wrap_to_their_scene_instead_of_being_cut() -> None:
    cue = "speech: 'we are finally going home after all these years at sea'"
    wrapped = wrap_cues([cue], 0.2)
    assert wrapped.replace("\n", " ") == cue and "\n" in wrapped


def test_the_title_names_style_ensemble_and_tempo() -> None:
    music = {"style": "latin", "style_from": "asked", "ensemble": ["Acoustic Grand Piano", "Cello"],
             "plan": {"tempo_range_bpm": [96.0, 112.4]}}
    assert figure_title(music) == "style: latin (asked) · ensemble: Acoustic Grand Piano, Cello · tempo 96-112 BPM"


def test_the_figure_draws_labels_outside_the_plot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str] = []
    original = matplotlib.axes.Axes.text

    def recording(self, x, y, s, *args, **kwargs):  # noqa: ANN001, ANN202
        drawn.append(str(s))
        return original(self, x, y, s, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "text", recording)
    scenes = [{"start_s": 0.0, "end_s": 4.0, "valence": 0.2, "arousal": 0.1, "probs": {"disgust": 0.2, "joy": 0.19},
               "confidence": 0.02, "why": ["colour/motion: warm"]}]
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0, name="comp")
    piano.notes.append(pretty_midi.Note(80, 60, 0.0, 1.0))
    midi.instruments.append(piano)
    out = soundtrack_figure({"scenes": scenes}, [], 4.0, midi, [], tmp_path / "p.png", title="style: jazz")
    assert out.stat().st_size > 1000
    assert "unsure" in drawn and not any("disgust" in t for t in drawn)

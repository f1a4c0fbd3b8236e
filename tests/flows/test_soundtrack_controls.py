"""Style and palette in a job's parameters: part of its identity when asked, absent (as before) when not."""

from __future__ import annotations

import pytest

from emsync_models.errors import InputError
from flows.job_args import SoundtrackOptions, check_options
from flows.settings import Settings
from flows.soundtrack import job_params, music_controls

DEFAULT_KEYS = {"seed", "valence", "arousal", "original_audio_gain", "temperature", "top_p", "min_boundary_gap_s"}


def test_defaults_keep_the_parameters_a_job_always_had() -> None:
    assert set(job_params(Settings())) == DEFAULT_KEYS


def test_style_and_palette_make_a_different_job() -> None:
    params = job_params(Settings(), SoundtrackOptions(style="Jazz", instruments="piano,strings"))
    assert params["style"] == "jazz"
    assert params["palette"]["drums"] is False and 40 in params["palette"]["programs"]
    assert job_params(Settings(), SoundtrackOptions(no_drums=True))["palette"] == {"programs": None, "drums": False}
    assert params != job_params(Settings(), SoundtrackOptions(style="rock", instruments="piano,strings"))


def test_options_override_the_settings_and_auto_clears_them() -> None:
    settings = Settings(style="latin", instruments="brass")
    assert music_controls(settings)["style"] == "latin"
    assert music_controls(settings, SoundtrackOptions(style="auto", instruments="auto")) == {}
    assert music_controls(settings, SoundtrackOptions(style="march"))["style"] == "march"


@pytest.mark.parametrize(("options", "named"), [
    (SoundtrackOptions(style="dubstep"), "--style dubstep"),
    (SoundtrackOptions(instruments="piano,kazoo"), "--instruments kazoo"),
])
def test_unknown_choices_are_refused_before_any_work(options: SoundtrackOptions, named: str) -> None:
    with pytest.raises(InputError) as caught:
        check_options(options)
    assert str(caught.value).startswith(named)

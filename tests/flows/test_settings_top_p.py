"""Top-p is the music model's own unless the user sets it, and a v1 job keeps the identity it had."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from emsync_models.music.registry import V1, V2
from flows.settings import Settings
from flows.soundtrack import job_params


def test_unset_top_p_follows_the_music_model() -> None:
    assert Settings(music_model="v1").resolved_top_p == V1.top_p == 0.95
    assert Settings(music_model="v2").resolved_top_p == V2.top_p == 0.8


def test_a_set_top_p_wins_for_either_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMSYNC_TOP_P", "0.7")
    assert Settings(music_model="v1").resolved_top_p == 0.7
    assert Settings(music_model="v2").resolved_top_p == 0.7


def test_v1_jobs_keep_their_parameters_and_v2_jobs_name_theirs() -> None:
    # The job's parameters key its stored objects: v1's must read 0.95 as before the setting became
    # optional, or every stored v1 soundtrack would be composed again on a re-run.
    assert job_params(Settings(music_model="v1"))["top_p"] == 0.95
    assert job_params(Settings(music_model="v2"))["top_p"] == 0.8


@pytest.mark.parametrize("bad", ["0", "1.5", "-0.1"])
def test_an_out_of_range_top_p_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("EMSYNC_TOP_P", bad)
    with pytest.raises(ValidationError, match="top_p"):
        Settings()

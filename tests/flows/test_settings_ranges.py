"""Every numeric setting is finite and in its range: a bad value is one line naming the variable (exit 2)
at start-up, never noise, a hang or a late failure recorded as an outage; and the media limits are
settings, checked from the headers before any decoding, at ingest too."""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from emsync_models.video.probe import MediaLimits
from flows.settings import GROUPS, SettingsError, env_name, load_settings
from tests.media import make_clip

EMSYNC = str(Path(sys.executable).with_name("emsync"))


def _numeric_fields() -> list[tuple[str, type]]:
    found = []
    for group in GROUPS.values():
        for name, field in group.model_fields.items():
            kinds = set(typing.get_args(field.annotation)) or {field.annotation}
            if float in kinds:
                found.append((name, float))
    return found


@pytest.mark.parametrize(("name", "_kind"), _numeric_fields())
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_no_numeric_setting_takes_a_non_finite_value(name: str, _kind: type, value: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_name(name), value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.subject == env_name(name)


@pytest.mark.parametrize(("variable", "value"), [
    ("EMSYNC_LOUDNESS_LUFS", "nan"),
    ("EMSYNC_LOUDNESS_LUFS", "5"),
    ("EMSYNC_TEMPERATURE", "nan"),
    ("EMSYNC_TEMPERATURE", "inf"),
    ("EMSYNC_TEMPERATURE", "0"),
    ("EMSYNC_TEMPERATURE", "-1"),
    ("EMSYNC_SAMPLE_RATE", "0"),
    ("EMSYNC_SAMPLE_RATE", "1000000000"),
    ("EMSYNC_CONTENT_THRESHOLD", "nan"),
    ("EMSYNC_CONTENT_THRESHOLD", "0"),
    ("EMSYNC_ADAPTIVE_THRESHOLD", "-3"),
    ("EMSYNC_MIN_SCENE_LEN_S", "-1"),
    ("EMSYNC_MIN_BOUNDARY_GAP_S", "nan"),
    ("EMSYNC_CONCURRENCY", "0"),
    ("EMSYNC_SEED", "-1"),
    ("EMSYNC_SEED", str(2**63)),
    ("EMSYNC_TOP_P", "nan"),
    ("EMSYNC_TRITON_TIMEOUT_S", "0"),
    ("EMSYNC_MAX_DURATION_S", "0"),
    ("EMSYNC_MAX_PIXELS", "1"),
])
def test_an_out_of_range_setting_names_its_variable(variable: str, value: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.subject == variable


@pytest.mark.slow
@pytest.mark.parametrize(("variable", "value"), [("EMSYNC_LOUDNESS_LUFS", "nan"), ("EMSYNC_CONCURRENCY", "0")])
def test_the_cli_says_so_in_one_line_and_exits_2(variable: str, value: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", seconds=2.0)
    command = ["soundtrack", str(clip), "--out", str(tmp_path / "o.mp4"), "--valence", "0", "--arousal", "0"]
    if variable == "EMSYNC_CONCURRENCY":
        command = ["catalog", "backfill", "poison"]
    env = {**os.environ, "EMSYNC_DATA_DIR": str(tmp_path / "data"), variable: value}
    done = subprocess.run([EMSYNC, *command], env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 2, lines
    assert len(lines) == 1 and variable in lines[0], lines
    assert not (tmp_path / "o.mp4").exists()


def test_bounded_submit_refuses_a_limit_it_could_never_fill() -> None:
    from flows.catalog.submission import bounded_submit

    with pytest.raises(ValueError, match="at least 1"):
        bounded_submit(lambda i: None, [1], 0, lambda *a: None)


# -- media limits ------------------------------------------------------------------------------------------


def test_the_default_limits_admit_a_two_hour_film() -> None:
    MediaLimits().check(Path("film.mkv"), 1920, 1080, 24.0, 2 * 3600.0)
    MediaLimits().check(Path("film.mkv"), 3840, 2160, 30.0, 2 * 3600.0)


@pytest.mark.slow
def test_a_video_over_the_duration_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "long.mp4", seconds=90.0, size="64x36", fps=2, audio=False)
    env = {**os.environ, "EMSYNC_DATA_DIR": str(tmp_path / "data"), "EMSYNC_MAX_DURATION_S": "60"}
    done = subprocess.run([EMSYNC, "soundtrack", str(clip), "--out", str(tmp_path / "o.mp4"), "--valence", "0",
                           "--arousal", "0"], env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "long.mp4" in output and "0:01:30" in output and "EMSYNC_MAX_DURATION_S" in output, output
    assert "stage cuts" not in output  # refused from the headers, before the decode


@pytest.mark.slow
def test_ingest_refuses_a_video_over_the_limits(tmp_path: Path) -> None:
    make_clip(tmp_path / "ok.mp4", seconds=2.0, size="64x36", fps=5, audio=False)
    make_clip(tmp_path / "wide.mp4", seconds=2.0, size="640x360", fps=5, audio=False)
    (tmp_path / "m.csv").write_text("uri\nok.mp4\nwide.mp4\n")
    env = {**os.environ, "EMSYNC_DATA_DIR": str(tmp_path / "data"), "EMSYNC_MAX_PIXELS": str(320 * 180)}
    done = subprocess.run([EMSYNC, "catalog", "ingest", str(tmp_path / "m.csv")], env=env, capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "640x360" in output and "EMSYNC_MAX_PIXELS" in output, output

"""Instant re-run: an identical request runs no stage and still writes the files asked for; --recompute
runs them all; a change of the music parameters only reuses the stored cuts and emotion.

The stages are the real ones (the first run computes everything); the spies only count their calls.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import flows.reuse as reuse
import flows.soundtrack as soundtrack
from flows.cli.app import app

runner = CliRunner()
STAGE_FUNCTIONS = ("decode_once", "analyze_emotion", "compose_music", "render_audio", "mux_soundtrack",
                   "record_soundtrack")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts each stage function's calls; each still runs for real."""
    import flows.storage.persist as persist

    counted: Counter[str] = Counter()

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counted[name] += 1
            return real(*args, **kwargs)
        return wrapper

    for name in STAGE_FUNCTIONS:
        owner = persist if name == "record_soundtrack" else soundtrack
        monkeypatch.setattr(owner, name, spy(name, getattr(owner, name)))
    return counted


def soundtrack_cmd(clip: Path, out: Path, *extra: str) -> dict[str, Any]:
    result = runner.invoke(app, ["soundtrack", str(clip), "--out", str(out), "--json", *extra])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    return json.loads(result.stdout)


@pytest.mark.slow
def test_identical_rerun_recompute_and_music_only_change(tmp_path: Path, clip_with_cuts: Path,
                                                          isolated_settings: Path, calls: Counter[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    first = soundtrack_cmd(clip_with_cuts, tmp_path / "first.mp4", "--seed", "3")
    assert all(calls[name] == 1 for name in STAGE_FUNCTIONS), calls
    assert first["reused"] is None and first["emotion"]["source"] == "model"

    calls.clear()
    same = soundtrack_cmd(clip_with_cuts, tmp_path / "same.mp4", "--seed", "3", "--plot", str(tmp_path / "p.png"))
    assert sum(calls.values()) == 0, f"an identical re-run ran stages: {calls}"
    assert same["reused"]["result_from_run"]
    assert (tmp_path / "same.mp4").read_bytes() == (tmp_path / "first.mp4").read_bytes()
    assert (tmp_path / "p.png").stat().st_size > 0 and same["files"]["plot"] == str((tmp_path / "p.png").resolve())
    assert same["artifacts"] == first["artifacts"] and same["music"] == first["music"]

    calls.clear()
    again = soundtrack_cmd(clip_with_cuts, tmp_path / "again.mp4", "--seed", "3", "--recompute")
    assert all(calls[name] == 1 for name in STAGE_FUNCTIONS), calls
    assert again["reused"] is None and again["artifacts"] == first["artifacts"]

    calls.clear()
    other = soundtrack_cmd(clip_with_cuts, tmp_path / "other.mp4", "--seed", "4")
    assert calls["decode_once"] == 0 and calls["analyze_emotion"] == 0, calls
    assert calls["compose_music"] == calls["render_audio"] == calls["mux_soundtrack"] == 1, calls
    assert other["reused"]["analysis_from_run"]
    assert other["cuts_s"] == first["cuts_s"] and other["emotion"] == first["emotion"]
    assert other["input"] == first["input"]
    assert other["artifacts"]["audio"] != first["artifacts"]["audio"], "another seed is another job"

    # the same request after an upgrade of the code that writes the music: written again, on the stored analysis
    real_digest = reuse.code_digest
    monkeypatch.setattr(reuse, "code_digest", lambda *parts: real_digest(*parts) if parts else "a-newer-writer")
    calls.clear()
    upgraded = soundtrack_cmd(clip_with_cuts, tmp_path / "upgraded.mp4", "--seed", "3")
    assert calls["decode_once"] == 0 and calls["analyze_emotion"] == 0, calls
    assert calls["compose_music"] == calls["render_audio"] == calls["record_soundtrack"] == 1, calls
    assert upgraded["reused"]["analysis_from_run"], upgraded["reused"]


@pytest.mark.slow
def test_identical_rerun_writes_another_container_and_an_export(tmp_path: Path, clip_with_cuts: Path,
                                                                isolated_settings: Path,
                                                                calls: Counter[str]) -> None:
    fixed = ["--valence", "0.3", "--arousal", "0.2", "--seed", "1"]
    first = soundtrack_cmd(clip_with_cuts, tmp_path / "first.mp4", *fixed)
    calls.clear()
    folder = tmp_path / "export"
    mkv = soundtrack_cmd(clip_with_cuts, tmp_path / "again.mkv", *fixed, "--export", str(folder))
    # no model, no cut detection, no store; the stored music muxed into Matroska and the stems rendered
    assert calls["decode_once"] == calls["compose_music"] == calls["record_soundtrack"] == 0, calls
    assert calls["mux_soundtrack"] == 1 and mkv["reused"]["result_from_run"]
    assert mkv["artifacts"] == first["artifacts"]
    files = mkv["files"]["export"]
    mix, _ = sf.read(files["audio"], dtype="float64")
    total = sum(sf.read(p, dtype="float64")[0] for p in files["stems"].values())
    error_db = 20 * np.log10(np.sqrt(np.mean((total - mix) ** 2)) / np.sqrt(np.mean(mix ** 2)))
    assert error_db < -60.0, f"re-rendered stems differ from the stored mix by {error_db:.1f} dB"
    # keeping the original audio (ducked 6 dB) changes only the mix: the stored cuts stand, the music is made
    calls.clear()
    soundtrack_cmd(clip_with_cuts, tmp_path / "quiet.mp4", *fixed, "--duck-db", "-6", "--mix-original", "1")
    assert calls["compose_music"] == 1 and calls["decode_once"] == 0, calls

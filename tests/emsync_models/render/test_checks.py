"""A render that went wrong never becomes a stored soundtrack: a disk that fills mid-render, a silent,
clipped or noisy result fail the job (exit 1) and nothing is recorded as succeeded."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from emsync_models.render.checks import RenderCheckFailed, check_soundtrack
from flows.cli.app import app
from tests.media import make_clip

runner = CliRunner()


def _small_disk_fluidsynth(folder: Path, max_bytes: int) -> Path:
    """The real fluidsynth, under a file-size limit: its writes stop as on a full disk (it exits 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "fluidsynth"
    wrapper.write_text(f"#!/bin/sh\ntrap '' XFSZ\nulimit -f {max_bytes // 512}\nexec /usr/bin/fluidsynth \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return folder


def _runs(data_dir: Path) -> list[tuple[str, str | None]]:
    db = data_dir / "emsync.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return list(conn.execute("select status, error_kind from generation_runs"))


@pytest.mark.slow
def test_a_disk_that_fills_during_render_fails_the_job(tmp_path: Path, isolated_settings: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    clip = make_clip(tmp_path / "in.mp4", seconds=6.0)
    bin_dir = _small_disk_fluidsynth(tmp_path / "bin", 100_000)  # about 0.3 s of raw float audio
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out.mp4"
    result = runner.invoke(app, ["soundtrack", str(clip), "--out", str(out), "--valence", "0", "--arousal", "0"])
    assert result.exit_code == 1, result.output
    assert "fluidsynth wrote" in result.output and "Traceback" not in result.output
    assert not out.exists()
    assert ("succeeded", None) not in _runs(isolated_settings)
    objects = isolated_settings / "objects"
    assert not objects.exists() or not [p for p in objects.rglob("*") if p.is_file()]


def _tone(seconds: float = 3.0, sr: int = 22050) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    mono = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 660 * t)
    return np.stack([mono, mono], axis=1).astype(np.float32)


def test_a_musical_render_passes_the_checks() -> None:
    check_soundtrack(_tone(), 22050)


@pytest.mark.parametrize(("damage", "problem"), [
    (lambda a: np.zeros_like(a), "silent"),
    (lambda a: a * 1e-5, "silent"),
    (lambda a: np.where(np.arange(len(a))[:, None] % 100 == 0, np.float32(1.0), a), "clipped"),
    (lambda a: a * np.float32("nan"), "NaN"),
    (lambda a: np.random.default_rng(0).uniform(-0.5, 0.5, a.shape).astype(np.float32), "noise"),
])
def test_a_broken_render_is_refused(damage, problem: str) -> None:  # noqa: ANN001
    with pytest.raises(RenderCheckFailed, match=problem):
        check_soundtrack(damage(_tone()), 22050)

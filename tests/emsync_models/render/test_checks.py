"""A render that went wrong never becomes a stored soundtrack: a disk that fills mid-render, a silent,
clipped or noisy result fail the job (exit 1) and nothing is recorded as succeeded."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from emsync_models.render.checks import RenderCheckFailed, check_soundtrack
from tests.media import make_clip

runner = CliRunner()
EMSYNC = str(Path(sys.executable).with_name("emsync"))


def _small_disk(max_bytes: int) -> Callable[[], None]:
    """For a child process: no file it writes may grow past `max_bytes`, and a write past it fails with
    EFBIG instead of killing the process, as on a disk that fills."""
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return limit


def _runs(data_dir: Path) -> list[tuple[str, str | None]]:
    db = data_dir / "emsync.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return list(conn.execute("select status, error_kind from generation_runs"))


@pytest.mark.slow
def test_a_disk_that_fills_during_render_fails_the_job(tmp_path: Path, isolated_settings: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", seconds=6.0)
    out = tmp_path / "out.mp4"
    # the job's database and MIDI fit; its 6 s of rendered audio (1.6 MB at 24 bits) does not
    result = subprocess.run([EMSYNC, "soundtrack", str(clip), "--out", str(out), "--valence", "0", "--arousal", "0"],
                            env={**os.environ, "EMSYNC_DATA_DIR": str(isolated_settings)},
                            preexec_fn=_small_disk(1_000_000), capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and ("disk" in output.lower() or "wrote" in output), output
    assert not out.exists()
    assert ("succeeded", None) not in _runs(isolated_settings)
    objects = isolated_settings / "objects"
    assert not objects.exists() or not [p for p in objects.rglob("*.wav") if p.is_file()]


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

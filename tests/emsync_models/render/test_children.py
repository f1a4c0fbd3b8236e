"""Processes a render starts die with it: SIGTERM stops FluidSynth and removes the temp files; after
SIGKILL (no handler runs) the next job's scratch sweep stops the orphan and removes its folder.

A soundtrack job renders in-process (libfluidsynth, one synthesiser for all its parts) and starts no
FluidSynth; the `fluidsynth` command still renders a whole MIDI file where no parts are given (the eval's
example renders), so that path is driven here as a command does: the CLI's SIGTERM handler, a scratch
folder of the job's data dir, the render inside it."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.settings import get_settings
from flows.storage.scratch import scratch_dir

REPO = Path(__file__).resolve().parents[3]


def _slow_fluidsynth(folder: Path) -> Path:
    """The real fluidsynth, started late: a render that is still running when the job is killed."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "fluidsynth"
    wrapper.write_text("#!/bin/sh\nsleep 120\nexec /usr/bin/fluidsynth \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return folder


def _renders(marker: str) -> list[int]:
    """Processes whose command line names `marker` (the job's data folder)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in proc.joinpath("cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


DRIVER = """
import sys
from pathlib import Path

import pretty_midi

from emsync_models.render.audio import render_midi
from flows.cli.app import _stop_children_on_sigterm
from flows.settings import get_settings
from flows.storage.scratch import scratch_dir

_stop_children_on_sigterm()
settings = get_settings()
with scratch_dir(settings, "render") as work:
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes.append(pretty_midi.Note(velocity=80, pitch=60, start=0.0, end=2.5))
    midi.instruments.append(piano)
    path = Path(work) / "in.mid"
    midi.write(str(path))
    render_midi(path, Path(work) / "out.wav", settings.music.resolved_soundfont(), duration_s=3.0,
                work_dir=Path(work))
"""


def _start_job(tmp_path: Path, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "EMSYNC_DATA_DIR": str(data_dir),
           "PATH": f"{_slow_fluidsynth(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.Popen([sys.executable, "-c", DRIVER], env=env, cwd=str(REPO),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for_render(job: subprocess.Popen[bytes], marker: str) -> list[int]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and job.poll() is None:
        found = [p for p in _renders(marker) if p != job.pid]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no render started (job exit {job.poll()})")


def _scratch(data_dir: Path) -> list[Path]:
    root = data_dir / "scratch" / socket.gethostname()
    return list(root.iterdir()) if root.is_dir() else []


def _gone(pids: list[int], within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not [p for p in pids if Path(f"/proc/{p}").exists() and "Z" not in _state(p)]:
            return True
        time.sleep(0.1)
    return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


@pytest.mark.slow
def test_sigterm_stops_the_render_and_removes_its_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    job = _start_job(tmp_path, data_dir)
    children = _wait_for_render(job, str(data_dir))
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=60) == 128 + signal.SIGTERM
    assert _gone(children), f"still running: {children}"
    assert _scratch(data_dir) == []


@pytest.mark.slow
def test_after_sigkill_the_next_job_stops_the_orphan_and_sweeps_its_folder(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    job = _start_job(tmp_path, data_dir)
    children = _wait_for_render(job, str(data_dir))
    job.kill()
    job.wait(timeout=60)
    assert not _gone(children, within_s=1.0)  # SIGKILL runs no handler: the orphan lives on ...
    monkeypatch.setenv("EMSYNC_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    with scratch_dir(get_settings(), "next") as mine:  # ... until the next job on this host sweeps
        assert _gone(children), f"still running: {children}"
        assert _scratch(data_dir) == [Path(mine)]

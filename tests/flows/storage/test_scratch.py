"""Scratch folders: a killed process's leftovers are swept by the next job on the same host."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from flows.settings import get_settings
from flows.storage.scratch import scratch_dir, sweep_dead


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_new_scratch_folder_sweeps_those_of_dead_processes_only(tmp_path: Path):
    settings = get_settings()
    root = settings.store.data_dir / "scratch" / socket.gethostname()
    root.mkdir(parents=True)
    dead = root / f"{_dead_pid()}-backfill-abc"
    (dead / "half").mkdir(parents=True)
    (dead / "half" / "video.mp4").write_bytes(b"x" * 10)
    mine = root / f"{os.getpid()}-backfill-def"
    mine.mkdir()
    stranger = root / "notes"  # not a scratch folder: never touched
    stranger.mkdir()
    with scratch_dir(settings, "backfill") as tmp:
        work = Path(tmp)
        assert work.parent == root and work.name.startswith(f"{os.getpid()}-backfill-")
        assert not dead.exists() and mine.exists() and stranger.exists()
    assert not work.exists()  # a normal exit cleans up as TemporaryDirectory does
    assert sweep_dead(root) == []


def test_sweeping_a_missing_folder_is_a_no_op(tmp_path: Path):
    assert sweep_dead(tmp_path / "absent") == []

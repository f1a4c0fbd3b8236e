"""Child processes a job starts (FluidSynth) die with the job.

Each child runs in a process group of its own, is remembered while it runs, and leaves its group id in
a `child.pgid` file in its work folder. `stop_children` (called by the CLI on SIGTERM) kills the groups
still running; `kill_recorded_children` lets a sweeper stop the children of a process that was killed
outright (SIGKILL runs no handler), before it removes that process's folders.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

PGID_FILE = "child.pgid"
_live: set[int] = set()
_lock = threading.Lock()


def child_process_options() -> dict[str, Any]:
    """Popen keywords: a new session (and so a process group the child leads), killable as one."""
    return {"start_new_session": True}


def track(proc: subprocess.Popen[bytes], folder: Path) -> None:
    """Remember a started child: in this process, and on disk beside its files for a later sweeper."""
    with _lock:
        _live.add(proc.pid)
    (folder / PGID_FILE).write_text(str(proc.pid))


def forget(proc: subprocess.Popen[bytes]) -> None:
    with _lock:
        _live.discard(proc.pid)


def stop_children() -> int:
    """Kill every child group this process still runs; returns how many were signalled."""
    with _lock:
        groups = list(_live)
        _live.clear()
    for pgid in groups:
        _kill_group(pgid)
    return len(groups)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_recorded_children(folder: Path) -> list[int]:
    """Kill the children recorded under `folder` that still run; a recorded id now used by an unrelated
    process (its command line does not name the folder) is left alone."""
    killed = []
    for pgid_file in folder.rglob(PGID_FILE):
        text = pgid_file.read_text().strip() if pgid_file.is_file() else ""
        if not text.isdigit():
            continue
        pgid = int(text)
        if str(pgid_file.parent) in _cmdline(pgid):
            _kill_group(pgid)
            killed.append(pgid)
    return killed

"""Scratch folders for job work, kept under the data folder so a killed process's leftovers get swept.

A SIGKILL skips TemporaryDirectory's cleanup, and a backfill killed often (a preempted worker) would
fill /tmp with half-rendered videos. Scratch folders live in data_dir/scratch/<host>/ and are named
after the owning process id; opening a new one removes those whose process on this host is gone,
after killing the children (FluidSynth) such a process left running in them.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

from emsync_models.render.children import kill_recorded_children
from flows.settings import Settings


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def sweep_dead(root: Path) -> list[Path]:
    """Remove scratch folders in `root` whose owning process no longer exists; returns what it removed."""
    removed = []
    for child in root.iterdir() if root.is_dir() else ():
        pid = child.name.split("-", 1)[0]
        if child.is_dir() and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            kill_recorded_children(child)  # else an orphan would keep writing into a deleted file
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def scratch_dir(settings: Settings, purpose: str) -> tempfile.TemporaryDirectory[str]:
    """A TemporaryDirectory for `purpose`, after sweeping this host's folders of dead processes."""
    root = settings.store.data_dir / "scratch" / socket.gethostname()
    root.mkdir(parents=True, exist_ok=True)
    sweep_dead(root)
    return tempfile.TemporaryDirectory(prefix=f"{os.getpid()}-{purpose}-", dir=root)

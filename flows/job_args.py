"""The soundtrack command's arguments and their checks, in a module that imports nothing heavy: the CLI
answers a bad argument (no such file, "give both or neither") before torch and the models load.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from emsync_models.errors import InputError, path_errors_as_input

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")


@dataclass(frozen=True)
class SoundtrackOptions:
    seed: int | None = None
    valence: float | None = None
    arousal: float | None = None
    original_audio_gain: float | None = None  # None: replace the original audio; else mix it under
    plot: bool = True  # also write OUT.png: emotion timeline and piano roll against the cuts


def check_input(source: Path) -> None:
    """The cheap part of the input's checks (the probe does the rest): it exists, is a file, not empty."""
    with path_errors_as_input(source):
        if not source.exists():
            raise InputError(source, "no such file")
        if source.is_dir():
            raise InputError(source, "is a folder, not a video file")
        if source.stat().st_size == 0:
            raise InputError(source, "file is empty (0 bytes)")
        with source.open("rb") as f:  # unreadable (permissions) is bad input too, said now
            f.read(1)


def check_output(out: Path, source: Path | None = None, plot: bool = True) -> None:
    """Fail before any work if the result could not be written where the user asked, or would
    overwrite the input (the video itself, or its side file: the plot)."""
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(out, f"output must be a video file ending in one of {', '.join(VIDEO_SUFFIXES)}")
    with path_errors_as_input(out):
        _check_output(out, source, plot)


def _check_output(out: Path, source: Path | None, plot: bool) -> None:
    if source is not None:
        for written in (out, plot_path_for(out)) if plot else (out,):
            if _same_file(written, source):
                raise InputError(written, f"would overwrite the input {source}; choose another --out")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.exists():
        raise InputError(folder, "output folder does not exist")
    if not folder.is_dir():
        raise InputError(folder, "output folder is not a folder")
    for written in (out, plot_path_for(out)) if plot else (out,):
        if written.is_dir():
            raise InputError(written, "output path is a folder" if written == out else
                             "the plot's path (the output's name with .png) is a folder")
    try:  # os.access says yes to root even on read-only mounts; a real write is the honest test
        fd, probe_path = tempfile.mkstemp(dir=folder, prefix=".emsync-write-test-")
        os.close(fd)
        os.unlink(probe_path)
    except OSError as exc:
        raise InputError(folder, f"output folder is not writable ({exc.strerror})") from None


def _same_file(a: Path, b: Path) -> bool:
    """Same path after resolving links, or the same inode (a hard link)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


SEED_RANGE = (0, 2**63 - 1)  # the database keeps a job's seed as a signed 64-bit integer


def check_seed(seed: int, name: str = "--seed") -> None:
    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise InputError(name, f"{seed} is outside [{SEED_RANGE[0]}, 2**63 - 1]")


def check_options(options: SoundtrackOptions) -> None:
    if options.seed is not None:
        check_seed(options.seed)
    if (options.valence is None) != (options.arousal is None):
        raise InputError("--valence/--arousal", "give both or neither")
    for name, value in (("--valence", options.valence), ("--arousal", options.arousal)):
        if value is not None and not -1.0 <= value <= 1.0:
            raise InputError(name, f"{value} is outside [-1, 1]")
    gain = options.original_audio_gain
    if gain is not None and not 0.0 <= gain <= 4.0:
        raise InputError("--mix-original", f"{gain} is outside [0, 4]")


def plot_path_for(out: Path) -> Path:
    return out.with_suffix(".png")



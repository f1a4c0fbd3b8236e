"""The soundtrack command's arguments and their checks, in a module that imports nothing heavy: the CLI
answers a bad argument (no such file, "give both or neither") before torch and the models load.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emsync_models.errors import InputError, path_errors_as_input

if TYPE_CHECKING:
    from flows.settings import Settings

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")


@dataclass(frozen=True)
class SoundtrackOptions:
    seed: int | None = None
    valence: float | None = None
    arousal: float | None = None
    original_audio_gain: float | None = None  # None: replace the original audio; else mix it under
    # The picture (emotion timeline and piano roll against the cuts) only where the user named it;
    # never guessed beside --out, where it once replaced a photo of the same name.
    plot: Path | None = None
    export: Path | None = None  # a folder for the MIDI, the WAV, per-instrument stems and the picture
    force: bool = False  # replace files that already exist at --out, --plot or in --export
    # The music's gain under speech when the original audio is kept (None: the setting, EMSYNC_DUCK_DB).
    duck_db: float | None = None
    recompute: bool = False  # compute again even when the identical request's result is stored
    # The music's style family and instrument palette (emsync_models.music.controls); None: the settings'
    # (EMSYNC_STYLE, EMSYNC_INSTRUMENTS), else chosen from valence/arousal. "auto" overrides a setting.
    style: str | None = None
    instruments: str | None = None
    no_drums: bool = False


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


def check_output(out: Path, source: Path | None = None, plot: Path | None = None,
                 export: Path | None = None, force: bool = False) -> None:
    """Fail before any work if a result could not be written where the user asked, would overwrite the
    input, or would replace an existing file without `force`."""
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(out, f"output must be a video file ending in one of {', '.join(VIDEO_SUFFIXES)}")
    if plot is not None and plot.suffix.lower() != ".png":
        raise InputError(plot, "--plot must name a .png file")
    with path_errors_as_input(out):
        _check_file(out, source, force, "output path")
    if plot is not None:
        with path_errors_as_input(plot):
            if _same_file(plot, out):
                raise InputError(plot, "--plot and --out name the same file")
            _check_file(plot, source, force, "--plot")
    if export is not None:
        with path_errors_as_input(export):
            _check_export(export, force)


def _check_file(written: Path, source: Path | None, force: bool, what: str) -> None:
    if source is not None and _same_file(written, source):
        raise InputError(written, f"would overwrite the input {source}; choose another {what}")
    folder = written.parent if str(written.parent) else Path(".")
    if not folder.exists():
        raise InputError(folder, "output folder does not exist")
    if not folder.is_dir():
        raise InputError(folder, "output folder is not a folder")
    if written.is_dir():
        raise InputError(written, f"{what} is a folder")
    if (written.exists() or written.is_symlink()) and not force:
        raise InputError(written, "already exists; pass --force to replace it")
    _check_writable(folder)


def _check_export(export: Path, force: bool) -> None:
    if export.exists() and not export.is_dir():
        raise InputError(export, "--export must be a folder, and this is a file")
    if export.is_dir():
        if any(export.iterdir()) and not force:
            raise InputError(export, "export folder is not empty; pass --force to replace its files")
        _check_writable(export)
    else:
        parent = export.parent if str(export.parent) else Path(".")
        if not parent.is_dir():
            raise InputError(parent, "the export folder's parent folder does not exist")
        _check_writable(parent)


def _check_writable(folder: Path) -> None:
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
    if options.duck_db is not None:
        if gain is None:
            raise InputError("--duck-db", "only applies with --mix-original (the music ducks under its speech)")
        if not -40.0 <= options.duck_db <= 0.0:
            raise InputError("--duck-db", f"{options.duck_db} is outside [-40, 0] dB")
    from emsync_models.music.controls import check_style, parse_palette

    check_style(options.style)
    parse_palette(options.instruments, options.no_drums)


def job_params(settings: Settings, options: SoundtrackOptions = SoundtrackOptions()) -> dict[str, Any]:
    """The parameters that, with the content hash and model versions, identify a job and its object keys."""
    params = {"seed": settings.music.seed if options.seed is None else options.seed, "valence": options.valence,
              "arousal": options.arousal, "original_audio_gain": options.original_audio_gain,
              "temperature": settings.music.temperature, "top_p": settings.resolved_top_p,
              "min_boundary_gap_s": settings.cuts.min_boundary_gap_s}
    if options.original_audio_gain is not None:  # only a mix has a ducking depth (other jobs keep their keys)
        params["duck_db"] = settings.music.duck_db if options.duck_db is None else options.duck_db
        params["duck_carve_db"] = settings.music.duck_carve_db
    return {**params, **music_controls(settings, options)}


def music_controls(settings: Settings, options: SoundtrackOptions = SoundtrackOptions()) -> dict[str, Any]:
    """The style and palette a job asks for (the options', else the settings'), as parameters: each only
    when set, so a job without them keeps the identity (and stored result) it always had."""
    from emsync_models.music.controls import check_style, parse_palette

    style = check_style(options.style) if options.style is not None else settings.music.style
    spec = options.instruments if options.instruments is not None else settings.music.instruments
    palette = parse_palette(spec, options.no_drums)
    out: dict[str, Any] = {}
    if style is not None:
        out["style"] = style
    if not palette.free:
        out["palette"] = palette.to_params()
    return out

"""The one place a media file is opened for reading (so an allow-list of formats/protocols can wrap it)."""

from __future__ import annotations

from pathlib import Path

import av


def open_media(path: Path) -> av.container.InputContainer:
    """Open `path` for demuxing. Raises PyAV's errors (callers turn them into `InputError`)."""
    return av.open(str(path))

"""The one place that says how media may be opened: single-file containers over the `file` protocol only.

FFmpeg's playlist and reference demuxers (HLS `.m3u8`, `concat`, DASH, image sequences, MOV data
references, ...) open further files or URLs named *inside* the input. A catalog's allow-list of folders
and its content hash cover only the file it names, so such an input could make a worker read (and
publish) any media file it can reach. Every open of untrusted media therefore goes through here, in
PyAV, for the probe, the decode and the mux alike: one FFmpeg build reads a file one way, so what was
checked is what is muxed (no untrusted file is handed to the ffmpeg command line, whose own version could
probe it differently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import av

from emsync_models.errors import InputError

# Demuxers (FFmpeg's names) that read exactly the one file they are given. Each entry is one demuxer's
# full name as FFmpeg reports it in `container.format.name`.
SINGLE_FILE_FORMATS: tuple[str, ...] = (
    "mov,mp4,m4a,3gp,3g2,mj2",
    "matroska,webm",
    "avi",
    "mpegts",
    "flv",
    "ogg",
    "mpeg",
    "asf",
)
# The names FFmpeg's `format_whitelist` option matches against (any name of a demuxer admits it).
FORMAT_WHITELIST = ",".join(SINGLE_FILE_FORMATS)
PROTOCOL_WHITELIST = "file"


def options() -> dict[str, str]:
    """AVFormatContext options for `av.open`: refuse other demuxers and every protocol but `file`."""
    return {
        "protocol_whitelist": PROTOCOL_WHITELIST,
        "format_whitelist": FORMAT_WHITELIST,
        # MOV/MP4 data references point at other files; FFmpeg ignores them unless this is on.
        "enable_drefs": "0",
    }


def open_input(path: Path, label: Path | None = None, **kwargs: Any) -> av.container.InputContainer:  # noqa: ANN401
    """`av.open` for reading untrusted media; any refusal or decode error is the input's problem.

    A local path is opened as `file:` so a name such as `concat:a|b` or `subfile,...` is never taken
    for a protocol.
    """
    shown = label if label is not None else path
    try:
        container = av.open(_file_url(path), mode="r", options=options(), **kwargs)
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise InputError(shown, f"not a readable video ({_reason(exc)}); only single-file containers are "
                         "accepted, not playlists such as HLS .m3u8 or concat lists") from None
    try:
        check_format(shown, container.format.name)
    except InputError:
        container.close()
        raise
    return container


def pictures(container: av.container.InputContainer) -> list[av.video.stream.VideoStream]:
    """The container's moving-picture streams: video streams less cover art (`attached_pic`), which
    audio files carry as a one-frame 'video' stream."""
    return [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]


def check_handle(path: Path, handle: BinaryIO) -> None:
    """Check that an open file is a single-file container before a library that takes no options reads it."""
    with open_input(Path(f"/proc/self/fd/{handle.fileno()}"), label=path):
        pass
    handle.seek(0)


def check_format(path: Path, format_name: str) -> None:
    """Refuse a container whose demuxer is not on the allow-list (belt and braces for the whitelist)."""
    if format_name not in SINGLE_FILE_FORMATS:
        raise InputError(path, f"container format '{format_name}' is not allowed: only single-file video "
                         "containers (MP4/MOV, Matroska/WebM, AVI, MPEG-TS/PS, FLV, Ogg, ASF)")


def _file_url(path: Path) -> str:
    return f"file:{Path(path).absolute()}"


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[-1].strip() or type(exc).__name__

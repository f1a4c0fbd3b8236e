"""Put the rendered soundtrack onto the video with ffmpeg: new audio encoded, picture copied when the
output container can hold its codec and re-encoded (H.264) when it cannot (VP8 into MP4, ...)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from emsync_models.errors import InputError
from emsync_models.video import safe_media


class MuxError(RuntimeError):
    """ffmpeg itself failed: an environment problem, not bad input (input was probed already)."""


# The container each output suffix names (ffmpeg muxer), and the video codecs it takes as they are.
CONTAINERS: dict[str, str] = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
_COPYABLE: dict[str, frozenset[str] | None] = {
    "mp4": frozenset({"h264", "hevc", "mpeg4", "av1", "vp9", "mpeg2video", "mpeg1video"}),
    "mov": frozenset({"h264", "hevc", "mpeg4", "prores", "mjpeg", "mpeg2video", "dnxhd"}),
    "matroska": None,  # Matroska holds every codec FFmpeg decodes
}
# ffmpeg messages that mean "this input cannot be written this way" (deterministic, not an outage).
_INPUT_PROBLEMS = re.compile(
    r"Invalid data found|not currently supported in container|Could not find tag for codec|not on whitelist"
    r"|Error while decoding|Invalid argument",
    re.IGNORECASE,
)


def container_for(out: Path) -> str:
    muxer = CONTAINERS.get(out.suffix.lower())
    if muxer is None:
        raise InputError(out, f"output must end in one of {', '.join(CONTAINERS)}")
    return muxer


def can_copy(codec: str, muxer: str) -> bool:
    allowed = _COPYABLE[muxer]
    return allowed is None or codec in allowed


def mux_soundtrack(video: Path, audio: Path, out: Path, *, duration_s: float,
                   original_audio_gain: float | None = None) -> Path:
    """Write `out` in the container its suffix names: `video`'s picture plus `audio` (optionally mixed
    over the original audio).

    The output is cut to `duration_s` so it matches the input's length exactly; writes go to a
    temporary name first so a failure never leaves a half-written file under the final name.
    """
    binary = shutil.which("ffmpeg")
    if binary is None:
        raise MuxError("ffmpeg is not installed (Debian package 'ffmpeg')")
    muxer = container_for(out)
    with safe_media.open_input(video) as container:
        pictures = safe_media.pictures(container)
        if not pictures:
            raise InputError(video, "no video stream (the only picture is cover art)")
        codec, picture, format_name = pictures[0].codec_context.name, pictures[0].index, container.format.name
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    cmd = [binary, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
           *safe_media.ffmpeg_input(video, format_name), "-i", f"file:{Path(audio).absolute()}"]
    if original_audio_gain is None:
        cmd += ["-map", f"0:{picture}", "-map", "1:a:0"]
    else:
        # Music stays in front; the original (dialogue, ambience) sits underneath at the given gain.
        mix = (f"[0:a:0]volume={original_audio_gain}[orig];"
               "[orig][1:a:0]amix=inputs=2:duration=longest:normalize=0,alimiter=limit=0.95[aout]")
        cmd += ["-filter_complex", mix, "-map", f"0:{picture}", "-map", "[aout]"]
    if can_copy(codec, muxer):
        cmd += ["-c:v", "copy"]
    else:
        # libx264 with 4:2:0 needs even dimensions (and at least 2: the probe refuses thinner pictures).
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
                "-vf", "scale=max(2\\,trunc(iw/2)*2):max(2\\,trunc(ih/2)*2)"]
    cmd += ["-c:a", "aac", "-b:a", "192k", "-t", f"{duration_s:.6f}"]
    if muxer in ("mp4", "mov"):
        cmd += ["-movflags", "+faststart"]
    cmd += ["-f", muxer, f"file:{tmp.absolute()}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        message = done.stderr.strip()[-400:]
        if _INPUT_PROBLEMS.search(message):
            raise InputError(video, f"ffmpeg cannot write this video as {muxer} ({message.splitlines()[-1]})")
        raise MuxError(f"ffmpeg failed: {message}")
    tmp.replace(out)
    return out

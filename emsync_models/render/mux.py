"""Put the rendered soundtrack onto the video with ffmpeg: video stream copied, new audio encoded."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class MuxError(RuntimeError):
    """ffmpeg itself failed: an environment problem, not bad input (input was probed already)."""


def mux_soundtrack(video: Path, audio: Path, out: Path, *, duration_s: float,
                   original_audio_gain: float | None = None) -> Path:
    """Write `out`: `video`'s picture untouched plus `audio` (optionally mixed over the original audio).

    The output is cut to `duration_s` so it matches the input's length exactly; writes go to a
    temporary name first so a failure never leaves a half-written file under the final name.
    """
    binary = shutil.which("ffmpeg")
    if binary is None:
        raise MuxError("ffmpeg is not installed (Debian package 'ffmpeg')")
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    cmd = [binary, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(video), "-i", str(audio)]
    if original_audio_gain is None:
        cmd += ["-map", "0:v:0", "-map", "1:a:0"]
    else:
        # Music stays in front; the original (dialogue, ambience) sits underneath at the given gain.
        mix = (f"[0:a:0]volume={original_audio_gain}[orig];"
               "[orig][1:a:0]amix=inputs=2:duration=longest:normalize=0,alimiter=limit=0.95[aout]")
        cmd += ["-filter_complex", mix, "-map", "0:v:0", "-map", "[aout]"]
    cmd += ["-c:v", "copy", "-c:a", "aac", "-b:a", "192k", "-t", f"{duration_s:.6f}",
            "-movflags", "+faststart", str(tmp)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise MuxError(f"ffmpeg failed: {done.stderr.strip()[-400:]}")
    tmp.replace(out)
    return out

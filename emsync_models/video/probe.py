"""Probe and validate an input video before any expensive work starts, from its headers alone.

Everything a later stage relies on (a video stream, a positive duration, a frame rate) is checked here,
so bad input fails in one clear line instead of deep inside a decoder. Reading headers costs
milliseconds; the one decode pass (`single_pass`) catches damage inside the stream.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av

from emsync_models.video import safe_media

_MIN_DURATION_S = 0.5
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class MediaLimits:
    """What one job may be asked to decode, checked from the headers before any frame is: a tiny file can
    hold a huge picture (a 199 KB 8192x8192 H.264 took 1.2 GB to decode) or hours of it. Each limit names
    the setting that raises it."""

    max_duration_s: float = 3 * 3600.0  # a feature film, with room
    max_pixels: int = 7680 * 4320  # one frame: 8K UHD
    max_pixel_rate: float = 7680 * 4320 * 30.0  # pixels per second: 8K at 30 fps, 4K at 120
    max_total_pixels: float = 3840 * 2160 * 30.0 * 3 * 3600  # width x height x fps x duration: 3 h of 4K30
    min_side: int = 2  # a picture narrower than this cannot be encoded (4:2:0 needs pairs of pixels)

    def check(self, path: Path, width: int, height: int, fps: float, duration_s: float) -> None:
        from emsync_models.errors import InputError

        if width < self.min_side or height < self.min_side:
            raise InputError(path, f"picture is {width}x{height} pixels; at least {self.min_side} on each side")
        if duration_s > self.max_duration_s:
            raise InputError(path, f"video lasts {_hms(duration_s)}; the limit is {_hms(self.max_duration_s)} "
                             "(EMSYNC_MAX_DURATION_S)")
        if width * height > self.max_pixels:
            raise InputError(path, f"picture is {width}x{height} ({width * height / 1e6:.1f} Mpx); the limit is "
                             f"{self.max_pixels / 1e6:.1f} Mpx (EMSYNC_MAX_PIXELS)")
        rate = width * height * fps
        if rate > self.max_pixel_rate:
            raise InputError(path, f"{width}x{height} at {fps:g} fps is {rate / 1e6:.0f} Mpx/s; the limit is "
                             f"{self.max_pixel_rate / 1e6:.0f} Mpx/s (EMSYNC_MAX_PIXEL_RATE)")
        if rate * duration_s > self.max_total_pixels:
            raise InputError(path, f"{width}x{height} at {fps:g} fps for {_hms(duration_s)} is "
                             f"{rate * duration_s / 1e12:.2f} Tpx to decode; the limit is "
                             f"{self.max_total_pixels / 1e12:.2f} Tpx (EMSYNC_MAX_TOTAL_PIXELS)")


def _hms(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


@dataclass(frozen=True)
class VideoProbe:
    path: str
    size_bytes: int
    duration_s: float
    fps: float
    width: int
    height: int
    frame_count: int
    video_codec: str
    has_audio: bool
    audio_codec: str | None
    audio_sample_rate: int | None
    container: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes: the identity of a video everywhere (keys, rows, caches)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def probe_video(path: Path, limits: MediaLimits | None = None) -> VideoProbe:
    """Read `path`'s container metadata (no frame is decoded) and check it describes a usable video.

    Raises `InputError` naming the file and the problem for every kind of bad input the headers show.
    Damage inside the stream shows only when decoding: `single_pass.SinglePass` checks the decoded frame
    count against this probe's duration and corrects the duration from the last frame's time.
    """
    from emsync_models.errors import path_errors_as_input

    with path_errors_as_input(path):
        probe = _probe(path)
    (limits or MediaLimits()).check(path, probe.width, probe.height, probe.fps, probe.duration_s)
    return probe


def _probe(path: Path) -> VideoProbe:
    from emsync_models.errors import InputError

    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a folder, not a video file")
    size = path.stat().st_size
    if size == 0:
        raise InputError(path, "file is empty (0 bytes)")
    container = safe_media.open_input(path)  # single-file containers only (no playlists)
    with container:
        pictures = safe_media.pictures(container)
        if pictures and container.streams.audio and _one_still(container, pictures):
            pictures = []  # Matroska keeps cover art as an ordinary one-frame image track
        if not pictures:
            if container.streams.audio:
                cover = " (the only picture is cover art)" if container.streams.video else ""
                raise InputError(path, f"audio-only file{cover}: a video stream is needed")
            raise InputError(path, "no video stream (an empty or zero-length video)")
        stream = pictures[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        if fps <= 0:
            raise InputError(path, "video stream has no frame rate")
        duration_s = _duration(container, stream)
        frames = int(stream.frames or 0)  # 0 where the container does not store it (MPEG-TS, Matroska)
        if duration_s <= 0 and frames == 0 and stream.duration in (None, 0):
            raise InputError(path, "video stream has no decodable frames (corrupt or zero-length)")
        if 0 < duration_s < _MIN_DURATION_S:
            raise InputError(path, f"video is too short ({duration_s:.2f} s; at least {_MIN_DURATION_S} s)")
        return VideoProbe(
            path=str(path),
            size_bytes=size,
            duration_s=round(duration_s, 6),
            fps=fps,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            frame_count=frames or round(duration_s * fps),
            video_codec=stream.codec_context.name,
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio else None,
            audio_sample_rate=audio.codec_context.sample_rate if audio else None,
            container=container.format.name,
        )


# Image codecs a cover-art track uses; a real video in one of them (MJPEG from a camera) has many packets.
_STILL_CODECS = frozenset({"png", "mjpeg", "bmp", "webp", "tiff", "gif", "jpegls", "qoi"})


def _one_still(container: av.container.InputContainer, pictures: list[av.video.stream.VideoStream]) -> bool:
    """True when every picture stream is an image codec holding a single packet: cover art, not video.
    Reads packets (no decoding) and stops at the second."""
    if any(s.codec_context.name not in _STILL_CODECS for s in pictures):
        return False
    packets = 0
    for packet in container.demux(*pictures):
        if packet.size:
            packets += 1
            if packets > 1:
                return False
    return True


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[-1].strip() or type(exc).__name__

"""Streams a video's frames (at a set rate, downscaled) and its audio (mono 16 kHz) in one pass.

Nothing holds the whole video: PyAV demuxes packet by packet and each decoded item is handed to the
consumer and dropped. Frames between samples are decoded (H.264 needs them) but never converted,
which is where most of the per-frame cost would otherwise go.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter

from emsync_models.errors import InputError
from emsync_models.video import safe_media
from emsync_models.video.media import AudioChunk, MonoAudio, VideoFrame


def _scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    # Even sizes keep swscale on its fast paths.
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def stream_media(video: Path, fps: float, max_side: int = 640, audio: bool = True,
                 frames: bool = True) -> Iterator[VideoFrame | AudioChunk]:
    """Yield VideoFrame at about `fps` and AudioChunk (mono 16 kHz) in container order."""
    container = safe_media.open_input(video)  # single-file containers only (no playlists)
    with container:
        vstreams = container.streams.video[:1] if frames else []
        astreams = container.streams.audio[:1] if audio else []
        if frames and not vstreams:
            raise InputError(video, "has no video stream")
        if not vstreams and not astreams:
            return  # demux() with no streams would read every stream
        for s in vstreams:
            s.thread_type = "AUTO"
            # Deblocking is a large share of H.264/HEVC decode time and only smooths block edges,
            # which downscaled analysis frames never show.
            s.codec_context.options = {"skip_loop_filter": "all"}
            # Sampling a few frames per second from 24-60 fps footage: frames nothing else references
            # (most B-frames) can go undecoded; the sampler just takes the next decoded frame.
            if s.average_rate and fps <= float(s.average_rate) / 2:
                s.codec_context.skip_frame = "NONREF"
        resampler = MonoAudio() if astreams else None
        period = 1.0 / fps
        next_t = 0.0
        reformatter = VideoReformatter()  # keeps its swscale context (frame.reformat rebuilds one per frame)
        for packet in container.demux(*vstreams, *astreams):
            try:
                decoded = packet.decode()
            except av.FFmpegError:
                continue  # a corrupt packet costs one frame, not the video
            for item in decoded:
                if isinstance(item, av.VideoFrame):
                    if item.time is None or item.time + 1e-6 < next_t:
                        continue
                    w, h = _scaled_size(item.width, item.height, max_side)
                    rgb = reformatter.reformat(item, width=w, height=h, format="rgb24", threads=1).to_ndarray()
                    yield VideoFrame(float(item.time), rgb)
                    # Skip ahead instead of accumulating drift when the source fps is not a multiple.
                    next_t = max(next_t + period, float(item.time) + period * 0.5)
                elif isinstance(item, av.AudioFrame) and resampler is not None:
                    yield from resampler.chunks(item)
        if resampler is not None:
            yield from resampler.chunks(None)


def probe_duration(video: Path) -> float:
    """Duration in seconds from the container (0.0 when unknown)."""
    try:
        with safe_media.open_input(video) as container:
            if container.duration is not None:
                return float(container.duration) / av.time_base
            stream = container.streams.video[0] if container.streams.video else None
            if stream is not None and stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
    except (av.FFmpegError, OSError) as exc:
        raise InputError(video, f"cannot open as a video ({exc})") from exc
    return 0.0

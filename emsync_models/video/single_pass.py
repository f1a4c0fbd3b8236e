"""One decode of a video feeds scene detection, the frame-count check and the emotion sampler.

Before this, a video was decoded three times: every frame by the probe (to find corruption), every
frame again at full size by PySceneDetect, and a third time by the emotion sampler. Here PyAV decodes
each frame once; swscale shrinks it straight to PySceneDetect's own analysis width (it downscales to
about 256 px wide itself, after converting the full frame), and only the frames emotion samples are
converted at its larger size. Audio is resampled in the same demux loop.

Iterate a `SinglePass` for the emotion items (`VideoFrame` at about `sample_hz`, `AudioChunk`); when it
is exhausted, `cuts_s`, `frames` and `duration_s` hold the scene cuts and what the decode saw.
`run()` drains it when nothing consumes the items (emotion fixed by the user, or all cached).
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter
from scenedetect import FrameTimecode
from scenedetect.common import Timecode, framerate_to_fraction

from emsync_models.errors import InputError
from emsync_models.video import safe_media
from emsync_models.video.cut_config import ANALYSIS_WIDTH, CutConfig
from emsync_models.video.cuts import make_detector
from emsync_models.video.media import AudioChunk, MonoAudio, VideoFrame

_MIN_DECODED_SHARE = 0.5
_MIN_DURATION_S = 0.5


def analysis_size(width: int, height: int, target: int = ANALYSIS_WIDTH) -> tuple[int, int]:
    """The frame size PySceneDetect's auto-downscale analyses: the long side brought to about `target`."""
    if max(width, height) < target:
        return width, height
    factor = max(width, height) / float(target)
    return max(1, round(width / factor)), max(1, round(height / factor))


def sample_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Emotion frames: long side at most `max_side`, even sizes (swscale's fast paths)."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def decoder_threads(budget: int) -> int:
    """FFmpeg frame threads for a thread budget: with a budget of 2 or more, two frames in flight per core.
    This loop's own work per frame (scaling, the detector, audio, an emotion sample every second) is
    uneven, and with only `budget` frames in flight the decoders sit waiting for it. On the 5-minute
    640x360 video at budget 2: 2 frame threads 3.98 s wall, 3 threads 3.57-3.69 s, 4 threads 3.40 s, 6
    threads 3.34 s, all 5.1-5.4 CPU-s (a waiting frame thread uses no core). A budget of 1 decodes on one
    thread: a worker in a fleet gets no second core to overlap with."""
    return 2 * budget if budget >= 2 else 1


class SinglePass:
    """One streaming decode of `path`; see the module docstring."""

    def __init__(self, path: Path, config: CutConfig = CutConfig(), *, sample_hz: float | None = 1.0,
                 max_side: int = 640, audio: bool = True, threads: int = 1,
                 expected_duration_s: float = 0.0) -> None:
        self.path = Path(path)
        self.config = config
        self.sample_hz = sample_hz
        self.max_side = max_side
        self.audio = audio
        self.threads = max(1, threads)
        self.expected_duration_s = expected_duration_s
        self.cuts_s: list[float] | None = None
        self.frames = 0
        self.duration_s: float | None = None
        self._started = False

    def run(self) -> SinglePass:
        """Decode to the end, dropping the emotion items; nothing to do if a consumer already did."""
        if self.cuts_s is None:
            for _ in self:
                pass
        return self

    def __iter__(self) -> Iterator[VideoFrame | AudioChunk]:
        if self._started:
            raise RuntimeError("a SinglePass decodes once; make a new one")
        self._started = True
        try:
            container = safe_media.open_input(self.path)
        except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise InputError(self.path, f"not a readable video ({_reason(exc)})") from None
        with container:
            yield from self._decode(container)

    def _decode(self, container: av.container.InputContainer) -> Iterator[VideoFrame | AudioChunk]:
        from emsync_models.video.safe_media import pictures

        if not pictures(container):
            raise InputError(self.path, "no video stream")
        vstream = pictures(container)[0]
        astreams = container.streams.audio[:1] if self.audio else []
        rate = vstream.guessed_rate or vstream.average_rate
        if not rate:
            raise InputError(self.path, "video stream has no frame rate")
        frame_rate = framerate_to_fraction(rate)
        vstream.thread_type = "AUTO"
        vstream.thread_count = decoder_threads(self.threads)
        # Deblocking is a large share of H.264/HEVC decode time and only smooths block edges, which
        # frames shrunk to 256-640 px for analysis do not show (cut times measured unchanged).
        vstream.codec_context.options = {"skip_loop_filter": "all"}
        detector = make_detector(self.config, float(frame_rate))
        resampler = MonoAudio() if astreams else None
        start_pts = vstream.start_time or 0
        stream_tb = vstream.time_base
        cuts: list[FrameTimecode] = []
        period = 1.0 / self.sample_hz if self.sample_hz else None
        next_t = 0.0
        last: FrameTimecode | None = None
        last_t: float | None = None
        small: tuple[int, int] | None = None
        frame_tb: Fraction | None = None
        tb, offset = Fraction(1), start_pts
        # One reformatter per output size keeps its swscale context; `frame.reformat` builds a new one
        # for every frame, which cost 1.05 ms a frame against 0.19 ms (640x360 -> 256x144). One swscale
        # thread: its default (one per core) spent 0.52 CPU-ms a frame against 0.19 on frames this small.
        # Nearest-neighbour for the detector's frames (0.10 against 0.20 ms a frame): its scores are means
        # over the whole frame, and PySceneDetect's own early downscale was pixel skipping too. Cut times
        # are unchanged on the tests' and the decode benchmark's videos.
        to_detector, to_sample = VideoReformatter(), VideoReformatter()
        try:
            for packet in container.demux(vstream, *astreams):
                for item in packet.decode():
                    if isinstance(item, av.VideoFrame):
                        if item.pts is None or not item.time_base:
                            continue
                        if item.time_base != frame_tb:  # one time base per stream in practice: work it out once
                            frame_tb = item.time_base
                            tb = Fraction(frame_tb.numerator, frame_tb.denominator)
                            offset = start_pts
                            if start_pts and stream_tb != frame_tb:
                                offset = int(start_pts * Fraction(stream_tb.numerator, stream_tb.denominator) / tb)
                        # PySceneDetect's PyAV backend times frames exactly this way (pts from the
                        # stream start, the guessed rate), so cut times match what it reported.
                        position = FrameTimecode(Timecode(pts=item.pts - offset, time_base=tb), fps=frame_rate)
                        if small is None:
                            small = analysis_size(item.width, item.height, self.config.analysis_width)
                        bgr = to_detector.reformat(item, width=small[0], height=small[1], format="bgr24",
                                                  interpolation="POINT", threads=1).to_ndarray()
                        cuts += detector.process_frame(position, bgr)
                        self.frames += 1
                        last, last_t = position, position.seconds
                        if period is not None and item.time is not None and item.time + 1e-6 >= next_t:
                            w, h = sample_size(item.width, item.height, self.max_side)
                            rgb = to_sample.reformat(item, width=w, height=h, format="rgb24", threads=1).to_ndarray()
                            yield VideoFrame(float(item.time), rgb)
                            next_t = max(next_t + period, float(item.time) + period * 0.5)
                    elif isinstance(item, av.AudioFrame) and resampler is not None:
                        yield from resampler.chunks(item)
            if resampler is not None:
                yield from resampler.chunks(None)
        except av.FFmpegError as exc:
            raise InputError(self.path, f"video stream is corrupt ({_reason(exc)})") from None
        if last is None:
            raise InputError(self.path, "video stream has no decodable frames (corrupt or zero-length)")
        cuts += detector.post_process(last)
        # Variable frame rate (screen recordings, phones dropping frames): the guessed rate is the
        # finest step of the time grid, the average rate what the stream holds; expect the fewer frames.
        average = float(vstream.average_rate or 0)
        self._check(float(frame_rate), last_t, min(float(frame_rate), average) if average > 0 else float(frame_rate))
        self.cuts_s = [round(c.seconds, 6) for c in sorted(set(cuts)) if c.seconds > 0]

    def _check(self, fps: float, last_t: float | None, expected_fps: float) -> None:
        expected = self.expected_duration_s * expected_fps
        if expected > 0 and self.frames < _MIN_DECODED_SHARE * expected:
            # FFmpeg conceals damage by dropping what it can't decode; losing this much is corruption.
            raise InputError(self.path, f"video stream is corrupt (decoded {self.frames} of ~{expected:.0f} frames)")
        duration = self.expected_duration_s
        # Container headers can lie about length; the last decoded frame cannot.
        if last_t is not None and (duration <= 0 or abs(last_t + 1 / fps - duration) > 1.0):
            duration = last_t + 1 / fps
        if duration < _MIN_DURATION_S:
            raise InputError(self.path, f"video is too short ({duration:.2f} s; at least {_MIN_DURATION_S} s)")
        self.duration_s = round(duration, 6)


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[-1].strip() or type(exc).__name__


def detect_cuts(path: Path, fps: float | None = None, config: CutConfig = CutConfig(), threads: int = 1) -> list[float]:
    """Times in seconds where a new scene starts (the first scene's start, 0, is not a cut).

    Decodes `path` on its own; the soundtrack job gets its cuts from the one decode pass instead
    (`SinglePass`), which this calls without the emotion sampling. `fps` is unused (the
    stream's own rate times the frames, as PySceneDetect does) and kept for callers.
    """
    cuts = SinglePass(path, config, sample_hz=None, audio=False, threads=threads).run().cuts_s
    assert cuts is not None
    return cuts

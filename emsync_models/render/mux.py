"""Put the rendered soundtrack onto the video: new audio encoded (AAC), picture copied when the output
container can hold its codec and re-encoded (H.264) when it cannot (VP8 into MP4, ...).

The mux runs in PyAV, the same FFmpeg build that probed and decoded the input, through the same
`safe_media.open_input`: the file muxed is opened exactly as it was checked (same demuxer, same version,
same protocol rules). A second FFmpeg (the ffmpeg command line) could read a file differently from the
one that checked it: an HLS header on an MPEG-TS, a name such as `concat:x.mp4`.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from emsync_models.errors import InputError
from emsync_models.video import safe_media


class MuxError(RuntimeError):
    """FFmpeg itself failed while writing: an environment problem, not bad input (input was probed already)."""


# The container each output suffix names (FFmpeg muxer), and the video codecs it takes as they are.
CONTAINERS: dict[str, str] = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
_COPYABLE: dict[str, frozenset[str] | None] = {
    "mp4": frozenset({"h264", "hevc", "mpeg4", "av1", "vp9", "mpeg2video", "mpeg1video"}),
    "mov": frozenset({"h264", "hevc", "mpeg4", "prores", "mjpeg", "mpeg2video", "dnxhd"}),
    "matroska": None,  # Matroska holds every codec FFmpeg decodes
}
AUDIO_BIT_RATE = 192_000
# How far (seconds) the audio is written ahead of the picture, so the muxer's interleaving queue stays short.
_AUDIO_LEAD_S = 0.5
_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 8: "7.1"}


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
    over the original audio at `original_audio_gain`).

    The output is cut to `duration_s` so it matches the input's length; writes go to a temporary name
    first so a failure never leaves a half-written file under the final name.
    """
    muxer = container_for(out)
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    try:
        with safe_media.open_input(video) as src:
            _mux(src, video, audio, tmp, muxer, duration_s, original_audio_gain)
        tmp.replace(out)
    except (av.error.InvalidDataError, av.error.ArgumentError) as exc:
        # Packets that cannot be read, a codec or stream the container cannot hold: the same every time.
        tmp.unlink(missing_ok=True)
        raise InputError(video, f"cannot write this video as {muxer} ({exc})") from None
    except av.error.FFmpegError as exc:  # a full disk, a failed allocation: worth another try
        tmp.unlink(missing_ok=True)
        raise MuxError(f"FFmpeg could not write {out.name} as {muxer}: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def _mux(src: av.container.InputContainer, video: Path, audio: Path, tmp: Path, muxer: str, duration_s: float,
         gain: float | None) -> None:
    pictures = safe_media.pictures(src)
    if not pictures:
        raise InputError(video, "no video stream (the only picture is cover art)")
    picture = pictures[0]
    original = src.streams.audio[0] if gain is not None and src.streams.audio else None
    # Timestamps start at the picture's first one, as zero: MPEG-TS starts late, and its audio may start
    # a frame before the picture.
    if picture.start_time is not None and picture.time_base is not None:
        start_s = float(picture.start_time * picture.time_base)
    else:
        start_s = (src.start_time or 0) / av.time_base
    options = {"movflags": "+faststart"} if muxer in ("mp4", "mov") else {}
    with av.open(f"file:{Path(audio).absolute()}", mode="r", format="wav") as music, \
            av.open(f"file:{tmp.absolute()}", mode="w", format=muxer, container_options=options) as dst:
        dst.metadata.update(src.metadata)
        copy = can_copy(picture.codec_context.name, muxer)
        out_v = _video_stream(dst, picture, copy)
        music_stream = music.streams.audio[0]
        out_a = dst.add_stream("aac", rate=music_stream.codec_context.sample_rate, layout=_layout(music_stream))
        out_a.bit_rate = AUDIO_BIT_RATE
        audio_out = _AudioOut(dst, out_a, duration_s)
        mixer = _Mixer(music_stream, original, gain, start_s) if original is not None else None
        music_frames = music.decode(music_stream)

        music_s = 0.0  # how much of the soundtrack has been read (the mix may hold some back)

        def audio_until(t: float) -> None:
            """Encode the soundtrack up to `t` seconds (or its end)."""
            nonlocal music_s
            while music_s < min(t, duration_s):
                frame = next(music_frames, None)
                if frame is None:
                    if mixer is not None:
                        audio_out.write_all(mixer.finish())
                    audio_out.music_ended = True
                    return
                music_s += frame.samples / frame.sample_rate
                audio_out.write_all(mixer.push_music(frame) if mixer is not None else [frame])

        streams = [picture] if original is None else [picture, original]
        for packet in src.demux(*streams):
            if packet.stream is original:
                # Once the soundtrack has ended the mix is finished (its graph closed): original audio
                # demuxed after that lies past the output's end.
                if mixer is not None and not audio_out.music_ended:
                    for frame in packet.decode():
                        audio_out.write_all(mixer.push_original(frame))
                continue
            t = _packet_time(packet, start_s)
            if t is None:
                continue  # an empty end-of-stream packet
            if t >= duration_s:
                break  # the decode order's first packet past the end: the cut, as ffmpeg's `-t` makes it
            if not audio_out.music_ended:
                audio_until(t + _AUDIO_LEAD_S)
            if copy:
                _shift(packet, start_s)
                packet.stream = out_v
                dst.mux(packet)
            else:
                for frame in packet.decode():
                    dst.mux(_encode_frame(out_v, frame, start_s))
        if not copy:
            dst.mux(out_v.encode(None))
        if not audio_out.music_ended:
            audio_until(duration_s)
        if mixer is not None and not audio_out.music_ended:
            audio_out.write_all(mixer.finish())
        audio_out.close()


def _video_stream(dst: av.container.OutputContainer, picture: av.video.stream.VideoStream,
                  copy: bool) -> av.stream.Stream:
    if copy:
        out_v = dst.add_stream_from_template(picture)
    else:
        rate = picture.average_rate or picture.guessed_rate or Fraction(25)
        out_v = dst.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "18"})
        # libx264 with 4:2:0 needs even dimensions (and at least 2: the probe refuses thinner pictures).
        out_v.width = max(2, picture.codec_context.width // 2 * 2)
        out_v.height = max(2, picture.codec_context.height // 2 * 2)
        out_v.pix_fmt = "yuv420p"
        out_v.time_base = picture.time_base
        out_v.codec_context.time_base = picture.time_base
    out_v.metadata.update(picture.metadata)
    return out_v


def _layout(stream: av.audio.stream.AudioStream) -> str:
    """A WAV names its channel count, not its layout: the count's usual layout (2: stereo)."""
    channels = stream.codec_context.channels
    return _LAYOUTS.get(channels, f"{channels}c")


def _packet_time(packet: av.Packet, start_s: float) -> float | None:
    stamp = packet.dts if packet.dts is not None else packet.pts
    if stamp is None or packet.time_base is None:
        return None
    return float(stamp * packet.time_base) - start_s


def _shift(packet: av.Packet, start_s: float) -> None:
    offset = round(start_s / packet.time_base)
    if packet.pts is not None:
        packet.pts -= offset
    if packet.dts is not None:
        packet.dts -= offset


def _encode_frame(out_v: av.stream.Stream, frame: av.VideoFrame, start_s: float) -> list[av.Packet]:
    pts = frame.pts
    converted = frame.reformat(width=out_v.width, height=out_v.height, format="yuv420p")
    if pts is not None and frame.time_base is not None:
        converted.pts = pts - round(start_s / frame.time_base)
        converted.time_base = frame.time_base
    return out_v.encode(converted)


class _AudioOut:
    """Encodes soundtrack frames to AAC, cut at the output's length to the sample."""

    def __init__(self, dst: av.container.OutputContainer, stream: av.stream.Stream, duration_s: float) -> None:
        self.dst, self.stream = dst, stream
        self.rate = stream.codec_context.sample_rate
        self.limit = round(duration_s * self.rate)
        self.samples = 0
        self.music_ended = False

    @property
    def written_s(self) -> float:
        return self.samples / self.rate

    def write_all(self, frames: Iterator[av.AudioFrame] | list[av.AudioFrame]) -> None:
        for frame in frames:
            self.write(frame)

    def write(self, frame: av.AudioFrame) -> None:
        room = self.limit - self.samples
        if room <= 0:
            return
        if frame.samples > room:
            frame = _first_samples(frame, room)
        frame.pts = self.samples
        frame.time_base = Fraction(1, self.rate)
        self.samples += frame.samples
        self.dst.mux(self.stream.encode(frame))

    def close(self) -> None:
        self.dst.mux(self.stream.encode(None))


def _first_samples(frame: av.AudioFrame, n: int) -> av.AudioFrame:
    data = frame.to_ndarray()
    cut = data[:, :n] if frame.format.is_planar else data[:, : n * len(frame.layout.channels)]
    out = av.AudioFrame.from_ndarray(np.ascontiguousarray(cut), format=frame.format.name, layout=frame.layout.name)
    out.sample_rate = frame.sample_rate
    return out


class _Mixer:
    """Music in front, the original audio (dialogue, ambience) underneath at `gain`, then a limiter:
    FFmpeg's own `volume`, `amix` and `alimiter` filters, in the same FFmpeg as the rest."""

    def __init__(self, music: av.audio.stream.AudioStream, original: av.audio.stream.AudioStream, gain: float,
                 start_s: float) -> None:
        self.graph = av.filter.Graph()
        self.music_in = self.graph.add_abuffer(template=music, name="music")
        self.original_in = self.graph.add_abuffer(template=original, name="original")
        volume = self.graph.add("volume", f"{gain}")
        amix = self.graph.add("amix", "inputs=2:duration=longest:normalize=0")
        limiter = self.graph.add("alimiter", "limit=0.95")
        # The encoder's own sample rate and layout: the music's.
        fmt = self.graph.add("aformat", f"sample_rates={music.codec_context.sample_rate}:"
                             f"channel_layouts={_layout(music)}")
        self.sink = self.graph.add("abuffersink")
        self.music_in.link_to(amix, 0, 0)
        self.original_in.link_to(volume)
        volume.link_to(amix, 0, 1)
        amix.link_to(limiter)
        limiter.link_to(fmt)
        fmt.link_to(self.sink)
        self.graph.configure()
        self.start_s = start_s
        self.original_ended = False

    def push_music(self, frame: av.AudioFrame) -> list[av.AudioFrame]:
        self.music_in.push(frame)
        return self._pull()

    def push_original(self, frame: av.AudioFrame) -> list[av.AudioFrame]:
        if frame.pts is not None and frame.time_base is not None:
            frame.pts -= round(self.start_s / frame.time_base)
        self.original_in.push(frame)
        return self._pull()

    def finish(self) -> list[av.AudioFrame]:
        self.music_in.push(None)
        if not self.original_ended:
            self.original_in.push(None)
            self.original_ended = True
        return self._pull()

    def _pull(self) -> list[av.AudioFrame]:
        frames = []
        while True:
            try:
                frames.append(self.sink.pull())
            except (av.error.BlockingIOError, av.error.EOFError):
                return frames

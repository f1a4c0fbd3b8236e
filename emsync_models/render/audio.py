"""MIDI → audio with FluidSynth and a General MIDI SoundFont, loudness-normalised under a true-peak limiter."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from emsync_models.errors import InputError
from emsync_models.render import children
from emsync_models.render.parts import FRAME_BYTES, TRIM_FADE_FRAMES, RawAudio, blocks, fade_ramp
from emsync_models.render.render_error import RenderError

RENDER_TAIL_S = 2.0  # rendered past the video's end (release tails), then trimmed
# Synth gain with headroom: a dense mix (a dozen voices struck together at high velocity) peaked near
# 6x full scale at FluidSynth's 0.5. Float output would carry that without clipping anyway, but the raw
# render then stays under full scale too; loudness normalisation sets the level afterwards.
SYNTH_GAIN = 0.1


def render_midi(midi_path: Path, wav_path: Path, soundfont: Path, *, sample_rate: int = 44100,
                duration_s: float | None = None, target_lufs: float = -16.0, threads: int = 1,
                work_dir: Path | None = None, stems: Sequence[tuple[Path, Path | None]] = ()) -> Path:
    """Render with FluidSynth, then trim/pad to `duration_s`, fade out and normalise loudness.

    `threads`: FluidSynth's `synth.cpu-cores` (its own pool, outside every other library's budget).
    `work_dir`: where FluidSynth's raw files go (default: the system temp folder); a job passes its
    scratch folder so that a killed job's leftovers are swept with it.
    The result is checked before it is kept (finite, not silent, not clipped, not noise) and read
    back after: a render that went wrong never becomes a soundtrack.
    `stems`: (MIDI, WAV) pairs, the parts of `midi_path` one per instrument (see `stems.stem_midis`); a
    part whose WAV is None is rendered into the mix but not written on its own.
    Given them, the mix IS their sum: each part is rendered on its own and the mix is the sum of those
    renders, normalised once, with the same gain written into every stem, so the stems sum to the mix
    to within the files' 24-bit rounding. Rendering the whole MIDI once instead gives a mix that differs
    from the sum of separately rendered parts by about -46 dB on real v2 pieces (FluidSynth is not
    additive over tracks), so stems made beside such a mix could never sum to it.
    Memory stays at a few blocks of audio whatever the length: the parts, the mix and the true-peak
    envelope live in raw files in `work_dir`, and every pass (loudness search, the writing) reads them a
    block at a time.
    """
    from emsync_models.render.limiter import Envelope, master_gain
    from emsync_models.render.parts import FittedPart, write_sum

    with tempfile.TemporaryDirectory(prefix="render-", dir=work_dir) as tmp:
        folder = Path(tmp)
        if stems:
            raws = synthesize_parts([m for m, _ in stems], soundfont, folder, sample_rate=sample_rate,
                                    duration_s=duration_s, threads=threads)
        else:
            raws = [synthesize_midi_to(midi_path, soundfont, folder / "mix.raw", sample_rate=sample_rate,
                                       duration_s=duration_s, threads=threads)]
        frames = round(duration_s * sample_rate) if duration_s is not None else max(r.frames for r in raws)
        fade = int(FADE_S * sample_rate) if duration_s is not None else 0
        parts = [FittedPart(raw, frames, fade) for raw in raws]
        mix = write_sum(parts, folder / "sum.raw", frames) if stems else parts[0]
        envelope = Envelope(mix.read, frames, folder)
        try:
            master = master_gain(mix.read, frames, sample_rate, target_lufs, envelope)

            def gain(start: int, stop: int) -> np.ndarray | None:
                return master.gain(envelope, sample_rate, start, stop) if master is not None else None

            stem_parts = [(w, part) for (_, w), part in zip(stems, parts if stems else [], strict=True)
                          if w is not None]
            _write_all([(wav_path, mix), *stem_parts], frames, sample_rate, gain, folder)
        finally:
            envelope.close()
    return wav_path


def _write_all(outputs: Sequence[tuple[Path, Any]], frames: int, sample_rate: int,
               gain: Callable[[int, int], np.ndarray | None], folder: Path) -> None:
    """Each (WAV, source) written under the gain, block by block, to a file beside it, the first (the
    mix) checked as it goes; only a mix that passes replaces what was at the WAV paths."""
    from emsync_models.render.checks import SoundtrackCheck

    check = SoundtrackCheck(sample_rate, frames)
    partial = [folder / f"out-{i}.wav" for i in range(len(outputs))]
    files = []
    try:
        for path in partial:
            files.append(sf.SoundFile(path, "w", sample_rate, 2, subtype="PCM_24"))
        for start, stop in blocks(frames):
            g = gain(start, stop)
            for k, ((_, source), fh) in enumerate(zip(outputs, files, strict=True)):
                block = _gained(source.read(start, stop), g)
                if k == 0:
                    check.feed(block)
                fh.write(block)
    except (sf.LibsndfileError, OSError) as exc:  # EFBIG, ENOSPC: libsndfile says only "System error"
        raise RenderError(f"{outputs[0][0]}: could not write the rendered audio ({exc}); is the disk full?") from exc
    finally:
        for fh in files:
            fh.close()
    check.verify()
    for (wav_path, _), path in zip(outputs, partial, strict=True):
        written = sf.info(str(path)).frames
        if written != frames:  # a short write (a full disk) that the library did not raise
            raise RenderError(f"{wav_path}: wrote {written} of {frames} frames (is the disk full?)")
        wav_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, wav_path)


def _gained(audio: np.ndarray, gain: np.ndarray | None) -> np.ndarray:
    if gain is None:
        return audio
    return (audio.astype(np.float64) * gain[:, None]).astype(np.float32)


def synthesize_midi(midi_path: Path, soundfont: Path, *, sample_rate: int = 44100, duration_s: float | None = None,
                    threads: int = 1, work_dir: Path | None = None) -> tuple[np.ndarray, int]:
    """The raw FluidSynth render as float32 (frames, channels), before any gain or normalisation, bounded
    by the length it must have (`duration_s`, else the MIDI's own end) plus a short tail."""
    with tempfile.TemporaryDirectory(prefix="fluidsynth-", dir=work_dir) as tmp:
        raw = synthesize_midi_to(midi_path, soundfont, Path(tmp) / "raw.pcm", sample_rate=sample_rate,
                                 duration_s=duration_s, threads=threads)
        return raw.read(0, raw.frames), sample_rate


def synthesize_midi_to(midi_path: Path, soundfont: Path, raw_path: Path, *, sample_rate: int = 44100,
                       duration_s: float | None = None, threads: int = 1) -> RawAudio:
    """`synthesize_midi`, its render left in the raw file `raw_path` (float32 stereo).

    FluidSynth exits 0 when its output disk fills, leaving a short file: the render must hold at least
    the music up to its last event (or `duration_s`, if sooner), or it fails.
    """
    from emsync_models.threads import fluidsynth_options

    binary = shutil.which("fluidsynth")
    if binary is None:
        raise RenderError("fluidsynth is not installed (Debian package 'fluidsynth')")
    if not soundfont.is_file():
        raise RenderError(f"{soundfont}: SoundFont not found (Debian package 'timgm6mb-soundfont')")
    midi_end_s = _midi_end_s(midi_path)
    length_s = duration_s if duration_s is not None else midi_end_s
    return synthesize_to(binary, midi_path, soundfont, raw_path, sample_rate=sample_rate,
                         max_s=length_s + RENDER_TAIL_S, options=fluidsynth_options(threads),
                         min_s=min(length_s, midi_end_s))


def synthesize_parts(midi_paths: Sequence[Path], soundfont: Path, folder: Path, *, sample_rate: int = 44100,
                     duration_s: float | None = None, threads: int = 1) -> list[RawAudio]:
    """The raw renders of several MIDI files (the parts of one piece) by one synthesiser with the
    SoundFont loaded once (`fluid_lib`), each as `synthesize_midi` bounds it, into raw files in `folder`."""
    from emsync_models.render.fluid_lib import FluidLibraryError, render_files

    if not soundfont.is_file():
        raise RenderError(f"{soundfont}: SoundFont not found (Debian package 'timgm6mb-soundfont')")
    ends = [_midi_end_s(path) for path in midi_paths]
    length_s = duration_s if duration_s is not None else max(ends, default=0.0)
    max_s = length_s + RENDER_TAIL_S
    _check_free_space(folder, len(midi_paths) * int(max_s * sample_rate) * FRAME_BYTES)
    outs = [folder / f"part-{i}.raw" for i in range(len(midi_paths))]
    try:
        frames = render_files(midi_paths, outs, soundfont, sample_rate=sample_rate, gain=SYNTH_GAIN, max_s=max_s,
                              min_s=min(length_s, min(ends, default=0.0)), threads=threads)
    except FluidLibraryError as exc:
        raise RenderError(str(exc)) from exc
    return [RawAudio(out, n) for out, n in zip(outs, frames, strict=True)]


class RenderOverrun(InputError):
    """FluidSynth neither finished nor produced the audio it was asked for in its time: a property of
    this job's MIDI (deterministic), so the job fails as bad input instead of being retried."""


def synthesize(binary: str, midi_path: Path, soundfont: Path, *, sample_rate: int, max_s: float,
               timeout_s: float | None = None, options: list[str] | None = None, work_dir: Path | None = None,
               min_s: float = 0.0) -> np.ndarray:
    """Render at most `max_s` seconds of `midi_path`: float32 [frames, 2]; at least `min_s`, or it fails."""
    with tempfile.TemporaryDirectory(prefix="fluidsynth-", dir=work_dir) as tmp:
        raw = synthesize_to(binary, midi_path, soundfont, Path(tmp) / "raw.pcm", sample_rate=sample_rate,
                            max_s=max_s, timeout_s=timeout_s, options=options, min_s=min_s)
        return raw.read(0, raw.frames)


def synthesize_to(binary: str, midi_path: Path, soundfont: Path, raw_path: Path, *, sample_rate: int, max_s: float,
                  timeout_s: float | None = None, options: list[str] | None = None,
                  min_s: float = 0.0) -> RawAudio:
    """Render at most `max_s` seconds of `midi_path` into the raw file `raw_path`; at least `min_s`, or it fails.

    A MIDI with notes that never end keeps FluidSynth rendering (and writing) forever, so the output is
    raw PCM whose size we watch: once `max_s` seconds are on disk the synthesiser is stopped, and the
    file never grows past that cap. A synthesiser that stalls without output past `timeout_s` is stopped too.
    FluidSynth runs in a process group of its own that dies with the calling process (see `children`).
    """
    cap = int(max_s * sample_rate) * FRAME_BYTES
    budget = timeout_s if timeout_s is not None else 60.0 + 20.0 * max_s
    folder = raw_path.parent
    log = raw_path.with_suffix(".log")
    _check_free_space(folder, cap)
    # Float output keeps peaks above full scale instead of clipping them; the gain that matters is
    # applied afterwards by loudness normalisation, under a peak ceiling.
    cmd = [binary, "-ni", "-q", "-g", str(SYNTH_GAIN), "-r", str(sample_rate), *(options or []),
           "-T", "raw", "-O", "float", "-E", "little", "-F", str(raw_path), str(soundfont), str(midi_path)]
    with log.open("wb") as log_fh:
        proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                **children.child_process_options())
        children.track(proc, folder)
        try:
            capped = _wait_for(proc, raw_path, cap, time.monotonic() + budget)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            children.forget(proc)
    if capped is None:
        raise RenderOverrun(midi_path, f"FluidSynth did not finish within {budget:.0f} s "
                            f"(rendered {_size(raw_path) / (sample_rate * FRAME_BYTES):.1f} s of audio)")
    if not capped and proc.returncode != 0:
        raise RenderError(f"fluidsynth failed: {log.read_text(errors='replace').strip()[-400:]}")
    if not raw_path.is_file():
        raise RenderError(f"fluidsynth wrote no audio: {log.read_text(errors='replace').strip()[-400:]}")
    usable = min(_size(raw_path), cap) // FRAME_BYTES
    got_s = usable / sample_rate
    if got_s + 1.0 / sample_rate < min_s:
        free = shutil.disk_usage(folder).free
        raise RenderError(f"fluidsynth wrote {got_s:.2f} s of the {min_s:.2f} s the music lasts "
                          f"({free / 1e6:.1f} MB free in {folder}; a full disk stops it without an error)")
    return RawAudio(raw_path, usable)


def _check_free_space(folder: Path, needed: int) -> None:
    """Fail before rendering when the raw file cannot fit: FluidSynth would stop silently at a full disk."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise RenderError(f"{folder}: {free / 1e6:.1f} MB free, the render needs {needed / 1e6:.1f} MB "
                          f"({os.strerror(errno.ENOSPC)})")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _wait_for(proc: subprocess.Popen[bytes], raw: Path, cap: int, deadline: float) -> bool | None:
    """True: stopped at the size cap; False: FluidSynth exited by itself; None: the deadline passed."""
    while True:
        if proc.poll() is not None:
            return _size(raw) >= cap
        if _size(raw) >= cap:
            proc.kill()
            proc.wait()
            return True
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def _midi_end_s(midi_path: Path) -> float:
    import pretty_midi

    try:
        return float(pretty_midi.PrettyMIDI(str(midi_path)).get_end_time())
    except Exception as exc:  # noqa: BLE001 - mido/pretty_midi raise many types for a broken file
        raise InputError(midi_path, f"not a readable MIDI file ({exc})") from None


def fit_length(audio: np.ndarray, frames: int) -> np.ndarray:
    """Trim or zero-pad to exactly `frames`, with a short fade so a trim does not click."""
    if len(audio) >= frames:
        out = audio[:frames].copy()
        fade_ramp(out, 0, len(out), min(len(out), TRIM_FADE_FRAMES))
        return out
    pad = np.zeros((frames - len(audio), audio.shape[1]), dtype=audio.dtype)
    return np.concatenate([audio, pad])


def normalise_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float) -> np.ndarray:
    """Bring integrated loudness (ITU-R BS.1770, via pyloudnorm) to `target_lufs`, true peaks held at
    -1 dBTP by a limiter (`limiter.normalise_with_limiter`) rather than by giving up the level."""
    from emsync_models.render.limiter import normalise_with_limiter

    return normalise_with_limiter(audio, sample_rate, target_lufs)


FADE_S = 0.6


def fade_out(audio: np.ndarray, sample_rate: int, seconds: float = FADE_S) -> np.ndarray:
    """A short linear fade at the end: the final chord rings and then fades with the picture."""
    n = min(len(audio), int(seconds * sample_rate))
    if n:
        audio = audio.copy()
        fade_ramp(audio, 0, len(audio), n)
    return audio


def clipped_samples(audio: np.ndarray) -> int:
    """Samples at or beyond full scale (what a 16-bit render would have clipped)."""
    return int(np.count_nonzero(np.abs(audio) >= 1.0))

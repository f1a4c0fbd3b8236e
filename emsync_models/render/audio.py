"""MIDI → audio with FluidSynth and a General MIDI SoundFont, loudness-normalised under a true-peak limiter."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from emsync_models.errors import InputError
from emsync_models.render import children
from emsync_models.render.checks import check_soundtrack

RENDER_TAIL_S = 2.0  # rendered past the video's end (release tails), then trimmed
_CHANNELS, _SAMPLE_BYTES = 2, 4  # FluidSynth's file output: stereo, 32-bit float
# Synth gain with headroom: a dense mix (a dozen voices struck together at high velocity) peaked near
# 6x full scale at FluidSynth's 0.5. Float output would carry that without clipping anyway, but the raw
# render then stays under full scale too; loudness normalisation sets the level afterwards.
SYNTH_GAIN = 0.1


class RenderError(RuntimeError):
    """The renderer itself failed (missing binary, bad SoundFont): an environment problem."""


def render_midi(midi_path: Path, wav_path: Path, soundfont: Path, *, sample_rate: int = 44100,
                duration_s: float | None = None, target_lufs: float = -16.0, threads: int = 1,
                work_dir: Path | None = None, stems: Sequence[tuple[Path, Path]] = ()) -> Path:
    """Render with the `fluidsynth` CLI, then trim/pad to `duration_s`, fade out and normalise loudness.

    `threads`: FluidSynth's `synth.cpu-cores` (its own pool, outside every other library's budget).
    `work_dir`: where FluidSynth's raw file goes (default: the system temp folder); a job passes its
    scratch folder so that a killed job's leftovers are swept with it.
    The result is checked before it is written (finite, not silent, not clipped, not noise) and read
    back after: a render that went wrong never becomes a soundtrack.
    `stems`: (MIDI, WAV) pairs, the parts of `midi_path` one per instrument (see `stems.stem_midis`).
    Given them, the mix IS their sum: each part is rendered on its own and the mix is the sum of those
    renders, normalised once, with the same gain written into every stem, so the stems sum to the mix
    to within the files' 24-bit rounding. Rendering the whole MIDI once instead gives a mix that differs
    from the sum of separately rendered parts by about -46 dB on real v2 pieces (FluidSynth is not
    additive over tracks), so stems made beside such a mix could never sum to it.
    """
    from emsync_models.render.limiter import loudness_gain

    frames = round(duration_s * sample_rate) if duration_s is not None else None

    def raw(path: Path) -> np.ndarray:
        audio, _ = synthesize_midi(path, soundfont, sample_rate=sample_rate, duration_s=duration_s,
                                   threads=threads, work_dir=work_dir)
        return fitted(audio)

    def fitted(audio: np.ndarray) -> np.ndarray:
        if frames is not None:
            audio = fit_length(audio, frames)
        return fade_out(audio, sample_rate) if duration_s is not None else audio

    if stems:
        parts = _same_length([fitted(a) for a in synthesize_parts([m for m, _ in stems], soundfont,
                                                                  sample_rate=sample_rate, duration_s=duration_s,
                                                                  threads=threads)])
        mix = np.sum(np.stack(parts).astype(np.float64), axis=0).astype(np.float32)
    else:
        parts, mix = [], raw(midi_path)
    gain = loudness_gain(mix, sample_rate, target_lufs)
    audio = _gained(mix, gain)
    check_soundtrack(audio, sample_rate)
    _write(wav_path, audio, sample_rate)
    for part, (_, stem_wav) in zip(parts, stems, strict=True):
        _write(stem_wav, _gained(part, gain), sample_rate)
    return wav_path


def _same_length(parts: list[np.ndarray]) -> list[np.ndarray]:
    """Zero-pad every part to the longest (without a fixed duration, each ends where its own MIDI does)."""
    longest = max(len(p) for p in parts)
    return [p if len(p) == longest else fit_length(p, longest) for p in parts]


def _gained(audio: np.ndarray, gain: np.ndarray | None) -> np.ndarray:
    if gain is None:
        return audio
    return (audio.astype(np.float64) * gain[:, None]).astype(np.float32)


def _write(wav_path: Path, audio: np.ndarray, sample_rate: int) -> None:
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    # 24-bit: a mix and its stems are each rounded on their own, and at 16 bits the rounding of a mix
    # and seven stems alone summed to -60 dB against a quiet 9 s piece; at 24 bits it is ~48 dB lower.
    try:
        sf.write(wav_path, audio, sample_rate, subtype="PCM_24")
    except (sf.LibsndfileError, OSError) as exc:  # EFBIG, ENOSPC: libsndfile says only "System error"
        raise RenderError(f"{wav_path}: could not write the rendered audio ({exc}); is the disk full?") from exc
    written = sf.info(str(wav_path)).frames
    if written != len(audio):  # a short write (a full disk) that the library did not raise
        raise RenderError(f"{wav_path}: wrote {written} of {len(audio)} frames (is the disk full?)")


def synthesize_midi(midi_path: Path, soundfont: Path, *, sample_rate: int = 44100, duration_s: float | None = None,
                    threads: int = 1, work_dir: Path | None = None) -> tuple[np.ndarray, int]:
    """The raw FluidSynth render as float32 (frames, channels), before any gain or normalisation, bounded
    by the length it must have (`duration_s`, else the MIDI's own end) plus a short tail.

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
    audio = synthesize(binary, midi_path, soundfont, sample_rate=sample_rate, max_s=length_s + RENDER_TAIL_S,
                       options=fluidsynth_options(threads), work_dir=work_dir,
                       min_s=min(length_s, midi_end_s))
    return audio, sample_rate


def synthesize_parts(midi_paths: Sequence[Path], soundfont: Path, *, sample_rate: int = 44100,
                     duration_s: float | None = None, threads: int = 1) -> list[np.ndarray]:
    """The raw renders of several MIDI files (the parts of one piece) by one synthesiser with the
    SoundFont loaded once (`fluid_lib`), each as `synthesize_midi` bounds it."""
    from emsync_models.render.fluid_lib import FluidLibraryError, render_files

    if not soundfont.is_file():
        raise RenderError(f"{soundfont}: SoundFont not found (Debian package 'timgm6mb-soundfont')")
    ends = [_midi_end_s(path) for path in midi_paths]
    length_s = duration_s if duration_s is not None else max(ends, default=0.0)
    try:
        return render_files(midi_paths, soundfont, sample_rate=sample_rate, gain=SYNTH_GAIN,
                            max_s=length_s + RENDER_TAIL_S, min_s=min(length_s, min(ends, default=0.0)),
                            threads=threads)
    except FluidLibraryError as exc:
        raise RenderError(str(exc)) from exc


class RenderOverrun(InputError):
    """FluidSynth neither finished nor produced the audio it was asked for in its time: a property of
    this job's MIDI (deterministic), so the job fails as bad input instead of being retried."""


def synthesize(binary: str, midi_path: Path, soundfont: Path, *, sample_rate: int, max_s: float,
               timeout_s: float | None = None, options: list[str] | None = None, work_dir: Path | None = None,
               min_s: float = 0.0) -> np.ndarray:
    """Render at most `max_s` seconds of `midi_path`: float32 [frames, 2]; at least `min_s`, or it fails.

    A MIDI with notes that never end keeps FluidSynth rendering (and writing) forever, so the output is
    raw PCM whose size we watch: once `max_s` seconds are on disk the synthesiser is stopped, and the
    file never grows past that cap. A synthesiser that stalls without output past `timeout_s` is stopped too.
    FluidSynth runs in a process group of its own that dies with the calling process (see `children`).
    """
    cap = int(max_s * sample_rate) * _CHANNELS * _SAMPLE_BYTES
    budget = timeout_s if timeout_s is not None else 60.0 + 20.0 * max_s
    with tempfile.TemporaryDirectory(prefix="fluidsynth-", dir=work_dir) as tmp:
        raw = Path(tmp) / "raw.pcm"
        log = Path(tmp) / "fluidsynth.log"
        _check_free_space(Path(tmp), cap)
        # Float output keeps peaks above full scale instead of clipping them; the gain that matters is
        # applied afterwards by loudness normalisation, under a peak ceiling.
        cmd = [binary, "-ni", "-q", "-g", str(SYNTH_GAIN), "-r", str(sample_rate), *(options or []),
               "-T", "raw", "-O", "float", "-E", "little", "-F", str(raw), str(soundfont), str(midi_path)]
        with log.open("wb") as log_fh:
            proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    **children.child_process_options())
            children.track(proc, Path(tmp))
            try:
                capped = _wait_for(proc, raw, cap, time.monotonic() + budget)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                children.forget(proc)
        if capped is None:
            raise RenderOverrun(midi_path, f"FluidSynth did not finish within {budget:.0f} s "
                                f"(rendered {_size(raw) / (sample_rate * _CHANNELS * _SAMPLE_BYTES):.1f} s of audio)")
        if not capped and proc.returncode != 0:
            raise RenderError(f"fluidsynth failed: {log.read_text(errors='replace').strip()[-400:]}")
        if not raw.is_file():
            raise RenderError(f"fluidsynth wrote no audio: {log.read_text(errors='replace').strip()[-400:]}")
        with raw.open("rb") as fh:
            data = fh.read(cap)
        usable = len(data) - len(data) % (_CHANNELS * _SAMPLE_BYTES)
        got_s = usable / (sample_rate * _CHANNELS * _SAMPLE_BYTES)
        if got_s + 1.0 / sample_rate < min_s:
            free = shutil.disk_usage(tmp).free
            raise RenderError(f"fluidsynth wrote {got_s:.2f} s of the {min_s:.2f} s the music lasts "
                              f"({free / 1e6:.1f} MB free in {tmp}; a full disk stops it without an error)")
    return np.frombuffer(data[:usable], dtype="<f4").reshape(-1, _CHANNELS).copy()


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
        fade = min(len(out), 2048)
        out[len(out) - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
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
        audio[len(audio) - n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)[:, None]
    return audio


def clipped_samples(audio: np.ndarray) -> int:
    """Samples at or beyond full scale (what a 16-bit render would have clipped)."""
    return int(np.count_nonzero(np.abs(audio) >= 1.0))

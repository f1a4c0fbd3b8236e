"""Dialogue-aware mixing measured: Festival narration over a video, scored with --mix-original.

    .venv/bin/python -m benchmarks.ducking [--out benchmarks/results/ducking.json]

The narration: eight sentences in two Festival voices (kal diphone, CMU SLT HTS; Debian festival,
festvox-kallpc16k, festvox-us-slt-hts), 1.5-2.5 s apart, laid on a generated picture with cuts, at two
dialogue levels: -16 LUFS (the music's own target) and -23 LUFS (broadcast dialogue level). Each video
is scored by the real job (emotion by the models, so the ducking follows the speech extractor's spans)
with --mix-original 1 at the defaults (-15 dB, the speech band 12 dB further), and again with --duck-db 0
(no ducking; same seed, so the same music) for comparison; at -16 LUFS also with broadband ducks and no
carve. A second narration (other sentences, the same voices), never used to choose the defaults, is
measured at -16 LUFS with the defaults and the old -12 dB broadband duck. Where the phrases are is known
from how the narration was built (the reference for every measure, not the detector's spans):

- speech-to-music energy ratio during speech: the speech as it enters the mix against the ducked music
  (the export's music-ducked.wav) over the phrases; target >= +10 dB;
- the music between phrases: ducked against unducked music over the pauses; target within 1 dB (also
  given for the pauses' inside, without the release after a phrase and the attack before the next);
- the phrases are where each voice is (Festival's leading and trailing silence trimmed at -40 dB);
- word error rate of the speech recogniser the speech extractor uses (pocketsphinx) on each phrase of
  the delivered video's audio against the clean speech; target within 0.05 of clean.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
SENTENCES = (
    "The harbour was quiet when the boats came home.",
    "Nobody on the pier said a single word.",
    "My grandmother kept the old lamp burning all night.",
    "We walked along the river until the light was gone.",
    "The market opens early on a Saturday morning.",
    "She found the letter under a pile of newspapers.",
    "The train to the city leaves at half past seven.",
    "Please close the window before the rain comes in.",
)
# A second narration, never used to choose the defaults: the same measures on words the first set lacks.
SENTENCES_HELD_OUT = (
    "The children ran down to the beach after lunch.",
    "He bought a new coat for the winter.",
    "Our neighbours painted their front door bright red.",
    "The doctor asked me to come back next week.",
    "A small dog was sleeping under the table.",
    "They planted apple trees along the old road.",
    "The museum is closed on Mondays in the summer.",
    "I left my keys in the kitchen this morning.",
)
VOICES = ("voice_kal_diphone", "voice_cmu_us_slt_arctic_hts")
RATE_IN = 16_000  # Festival and the recogniser
VIDEO_RATE = 48_000
LEVELS_LUFS = (-16.0, -23.0)
# (depth, speech-band carve) beside the defaults (None) at the music's own level: the old broadband duck
# and deeper broadband ones, each without a carve.
Variant = tuple[float, float] | None
DEPTHS: dict[float, tuple[Variant, ...]] = {-16.0: (None, (-12.0, 0.0), (-20.0, 0.0), (-30.0, 0.0))}


def festival(text: str, voice: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.wav"
        subprocess.run(["text2wave", "-eval", f"({voice})", "-F", str(RATE_IN), "-o", str(path)],
                       input=text.encode(), capture_output=True, check=True)
        with wave.open(str(path)) as w:
            return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0


def narration(sentences: tuple[str, ...] = SENTENCES) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """16 kHz speech and the (start, end, text) of each phrase."""
    gaps = (1.5, 2.0, 2.5, 1.8, 2.2, 1.6, 2.4, 1.9)
    pieces, phrases, at = [np.zeros(RATE_IN, np.float32)], [], 1.0
    for i, text in enumerate(sentences):
        voice = festival(text, VOICES[i % 2])
        first, last = voiced(voice)
        phrases.append((at + first / RATE_IN, at + last / RATE_IN, text))
        pieces += [voice, np.zeros(int(gaps[i] * RATE_IN), np.float32)]
        at += len(voice) / RATE_IN + gaps[i]
    return np.concatenate(pieces), phrases


def voiced(voice: np.ndarray, floor_db: float = -40.0) -> tuple[int, int]:
    """First and last sample of the voice itself: Festival pads each phrase with silence, which is not
    speech (10 ms frames within `floor_db` of the phrase's loudest frame)."""
    frame = RATE_IN // 100
    rms = np.sqrt(np.mean(voice[: len(voice) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (floor_db / 20))
    return int(loud[0]) * frame, int(loud[-1] + 1) * frame


def to_rate(audio: np.ndarray, source: int, target: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(source, target)
    return resample_poly(audio.astype(np.float64), target // g, source // g).astype(np.float32)


def at_loudness(speech_48k: np.ndarray, lufs: float) -> np.ndarray:
    import pyloudnorm

    meter = pyloudnorm.Meter(VIDEO_RATE)
    return (speech_48k * 10 ** ((lufs - meter.integrated_loudness(speech_48k)) / 20)).astype(np.float32)


def make_video(path: Path, speech_48k: np.ndarray) -> None:
    seconds = len(speech_48k) / VIDEO_RATE
    wav = path.with_suffix(".wav")
    sf.write(wav, speech_48k, VIDEO_RATE, subtype="FLOAT")
    scenes = "".join(f"color=c={c}:s=320x180:r=25:d={seconds / 4:.3f}[v{i}];" for i, c in
                     enumerate(("navy", "darkgreen", "maroon", "gray")))
    graph = scenes + "[v0][v1][v2][v3]concat=n=4:v=1:a=0[v]"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-filter_complex", graph, "-i", str(wav),
                    "-map", "[v]", "-map", "0:a", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "192k", "-t", f"{seconds:.3f}", str(path)], check=True)


def decoded_audio(video: Path, rate: int) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(video), "-vn", "-ac", "1", "-ar",
                          str(rate), "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<f4").copy()


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def word_errors(reference: str, hypothesis: str) -> int:
    ref, hyp = words_of(reference), words_of(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def wer(audio_16k: np.ndarray, phrases: list[tuple[float, float, str]]) -> tuple[float, list[str]]:
    """Word error rate of pocketsphinx (the speech extractor's recogniser, same options) per phrase."""
    from emsync_models.emotion.extractors.asr import Transcriber

    transcriber = Transcriber()
    errors = words = 0
    heard = []
    for start, end, text in phrases:
        cut = audio_16k[max(0, int((start - 0.2) * RATE_IN)):int((end + 0.2) * RATE_IN)]
        pcm = (np.clip(cut, -1, 1) * 32767).astype("<i2").tobytes()
        hypothesis = transcriber.transcribe(pcm)
        heard.append(hypothesis)
        errors += word_errors(text, hypothesis)
        words += len(words_of(text))
    return errors / words, heard


def mean_square(audio: np.ndarray, rate: int, spans: list[tuple[float, float]]) -> float:
    picked = np.concatenate([audio[int(a * rate):int(b * rate)] for a, b in spans]).astype(np.float64)
    return float(np.mean(picked ** 2))


def db(ratio: float) -> float:
    return round(10 * np.log10(ratio), 2)


def score(video: Path, out: Path, export: Path, seed: int, variant: Variant | float) -> dict[str, Any]:
    """The real job with --mix-original 1: `variant` is (depth, carve), a depth alone, or None (defaults)."""
    from flows.settings import get_settings, load_settings
    from flows.soundtrack import SoundtrackOptions, run_soundtrack

    depth, carve = (variant, None) if not isinstance(variant, tuple) else variant
    settings = get_settings() if carve is None else load_settings(duck_carve_db=carve)
    options = SoundtrackOptions(seed=seed, original_audio_gain=1.0, duck_db=depth, export=export)
    return run_soundtrack(video, out, settings, options).report


def measure_level(lufs: float, speech_16k: np.ndarray, phrases: list[tuple[float, float, str]], work: Path,
                  clean_wer: float, depths: tuple[Variant, ...] = (None,), tag: str = "") -> list[dict[str, Any]]:
    """One entry per ducking variant (None: the defaults) at this dialogue level."""
    speech = at_loudness(to_rate(speech_16k, RATE_IN, VIDEO_RATE), lufs)
    level = f"{tag}{int(-lufs)}"
    video = work / f"narration{level}.mp4"
    make_video(video, speech)
    flat = score(video, work / f"flat{level}.mp4", work / f"x-flat{level}", 5, 0.0)
    wer_flat, heard_flat = wer(decoded_audio(work / f"flat{level}.mp4", RATE_IN), phrases)
    out = []
    for variant in depths:
        name = f"{level}-{'default' if variant is None else f'{int(-variant[0])}-{int(-variant[1])}'}"
        ducked = score(video, work / f"ducked{name}.mp4", work / f"x-ducked{name}", 5, variant)
        entry = measure_depth(lufs, speech, phrases, work, name, ducked, flat, clean_wer, wer_flat, heard_flat)
        out.append({"narration": tag.rstrip("-") or "first", "defaults": variant is None, **entry})
    return out


def measure_depth(lufs: float, speech: np.ndarray, phrases: list[tuple[float, float, str]], work: Path, name: str,
                  ducked: dict[str, Any], flat: dict[str, Any], clean_wer: float, wer_flat: float,
                  heard_flat: list[str]) -> dict[str, Any]:
    music_rate = sf.info(str(work / f"x-ducked{name}" / "music.wav")).samplerate
    music = sf.read(work / f"x-ducked{name}" / "music.wav", dtype="float64", always_2d=True)[0].mean(axis=1)
    under = sf.read(work / f"x-ducked{name}" / "music-ducked.wav", dtype="float64",
                    always_2d=True)[0].mean(axis=1)
    speech_at_music_rate = to_rate(speech, VIDEO_RATE, music_rate).astype(np.float64)
    talk = [(a, b) for a, b, _ in phrases]
    pauses = [(b, c) for (_, b, _), (c, _, _) in zip(phrases[:-1], phrases[1:], strict=True)]
    mix = ducked["mix"]
    inside = [(a + mix["release_ms"] / 1000, b - mix["attack_ms"] / 1000) for a, b in
              [(b, c) for (_, b), (c, _) in zip(ducked["mix"]["speech_spans_s"][:-1],
                                                 ducked["mix"]["speech_spans_s"][1:], strict=True)]]
    inside = [(a, b) for a, b in inside if b - a > 0.05]
    speech_ms = mean_square(speech_at_music_rate, music_rate, talk)
    wer_ducked, heard_ducked = wer(decoded_audio(work / f"ducked{name}.mp4", RATE_IN), phrases)
    return {
        "dialogue_lufs": lufs, "duck_db": mix["duck_db"], "carve_db": mix.get("carve_db", 0.0),
        "speech_spans_found": len(mix["speech_spans_s"]), "speech_spans_from": mix["speech_spans_from"],
        "phrases": len(phrases),
        "speech_to_music_during_speech_db": db(speech_ms / mean_square(under, music_rate, talk)),
        "speech_to_music_during_speech_unducked_db": db(speech_ms / mean_square(music, music_rate, talk)),
        "music_between_phrases_vs_unducked_db": db(mean_square(under, music_rate, pauses)
                                                   / mean_square(music, music_rate, pauses)),
        "music_between_detected_spans_vs_unducked_db": db(mean_square(under, music_rate, inside)
                                                          / mean_square(music, music_rate, inside)) if inside else None,
        "wer_clean": round(clean_wer, 4), "wer_ducked_mix": round(wer_ducked, 4),
        "wer_unducked_mix": round(wer_flat, 4),
        "wer_ducked_minus_clean": round(wer_ducked - clean_wer, 4),
        "heard_ducked": heard_ducked, "heard_unducked": heard_flat,
        "mix": {k: v for k, v in mix.items() if k != "speech_spans_s"},
        "detected_spans_s": mix["speech_spans_s"],
        "timings_s": {"ducked": ducked["timings_s"], "unducked": flat["timings_s"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ducking.json")
    args = parser.parse_args()
    speech, phrases = narration()
    clean_wer, heard_clean = wer(speech, phrases)
    speech_held, phrases_held = narration(SENTENCES_HELD_OUT)
    clean_wer_held, heard_clean_held = wer(speech_held, phrases_held)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["EMSYNC_DATA_DIR"] = str(work / "data")
        os.environ.pop("EMSYNC_DATABASE_URL", None)
        from flows.runtime import apply_thread_budget
        from flows.settings import get_settings

        get_settings.cache_clear()
        apply_thread_budget(get_settings())
        levels = [entry for lufs in LEVELS_LUFS
                  for entry in measure_level(lufs, speech, phrases, work, clean_wer, DEPTHS.get(lufs, (None,)))]
        levels += measure_level(-16.0, speech_held, phrases_held, work, clean_wer_held,
                                (None, (-12.0, 0.0)), tag="held-out-")
    result = {
        "what": "music ducking under Festival narration with --mix-original 1 (defaults and variants), measured "
                "against the phrases' known positions",
        "targets": {"speech_to_music_during_speech_db": ">= +10", "music_between_phrases_vs_unducked_db": "within 1",
                    "wer_ducked_minus_clean": "<= 0.05"},
        "narration": {"voices": list(VOICES), "sentences": len(SENTENCES), "seconds": len(speech) / RATE_IN,
                      "phrases_s": [(round(a, 3), round(b, 3)) for a, b, _ in phrases]},
        "heard_clean": heard_clean,
        "held_out_narration": {"sentences": list(SENTENCES_HELD_OUT), "heard_clean": heard_clean_held,
                               "phrases_s": [(round(a, 3), round(b, 3)) for a, b, _ in phrases_held]},
        "levels": levels,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for level in levels:
        print(f"{level['narration']}: dialogue {level['dialogue_lufs']:g} LUFS, depth {level['duck_db']:g} dB "
              f"(speech band {level['carve_db']:+g} dB): speech/music during speech "
              f"{level['speech_to_music_during_speech_db']:+.1f} dB (unducked "
              f"{level['speech_to_music_during_speech_unducked_db']:+.1f}), music between phrases "
              f"{level['music_between_phrases_vs_unducked_db']:+.2f} dB, WER clean {level['wer_clean']:.3f} "
              f"ducked {level['wer_ducked_mix']:.3f} unducked {level['wer_unducked_mix']:.3f}")


if __name__ == "__main__":
    main()

"""The music ducks under speech: the side-chain gain measured on a real FluidSynth render, with the spans
found by the speech extractor's voice-activity detector in Festival speech."""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from emsync_models.emotion.extractors.speech import voice_spans
from emsync_models.render.audio import render_midi
from emsync_models.render.ducking import Ducking, duck, gain_curve_db, merge_spans, speech_band
from emsync_models.video.media import AUDIO_RATE, AudioChunk
from flows.settings import KNOWN_SOUNDFONTS

PHRASES = ("The boats came home before the storm.", "Nobody on the pier said a word.")


def festival(text: str) -> np.ndarray:
    """`text` spoken by Festival's default voice (`text2wave`), 16 kHz mono float32."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run(["text2wave", "-F", str(AUDIO_RATE), "-o", str(path)], input=text.encode(),
                       capture_output=True, check=True)
        with wave.open(str(path)) as w:
            return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0


def level_db(audio: np.ndarray, rate: int, spans: list[tuple[float, float]]) -> float:
    picked = np.concatenate([audio[int(a * rate):int(b * rate)] for a, b in spans])
    return 10 * np.log10(np.mean(picked.astype(np.float64) ** 2))


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, int]:
    """12 s of strings and piano, rendered and loudness-normalised as a soundtrack is."""
    soundfont = next((p for p in KNOWN_SOUNDFONTS if p.is_file()), None)
    if soundfont is None:
        pytest.skip("no General MIDI SoundFont installed")
    folder = tmp_path_factory.mktemp("ducking")
    midi = pretty_midi.PrettyMIDI(initial_tempo=90)
    strings, piano = pretty_midi.Instrument(program=48), pretty_midi.Instrument(program=0)
    for bar in range(9):
        start = bar * 1.333
        for pitch in (48, 55, 60, 64):
            strings.notes.append(pretty_midi.Note(80, pitch, start, start + 1.33))
        for step in range(4):
            piano.notes.append(pretty_midi.Note(90, 72 + 2 * step, start + step * 0.333, start + step * 0.333 + 0.3))
    midi.instruments += [strings, piano]
    midi.write(str(folder / "m.mid"))
    render_midi(folder / "m.mid", folder / "m.wav", soundfont, duration_s=12.0)
    audio, rate = sf.read(folder / "m.wav", dtype="float32", always_2d=True)
    return audio, rate


def test_the_music_ducks_under_each_phrase_and_returns_between(music: tuple[np.ndarray, int]) -> None:
    audio, rate = music
    speech = np.zeros(12 * AUDIO_RATE, np.float32)
    truth: list[tuple[float, float]] = []
    at = 1.0
    for text in PHRASES:
        voice = festival(text)
        speech[int(at * AUDIO_RATE):int(at * AUDIO_RATE) + len(voice)] = voice
        truth.append((at, at + len(voice) / AUDIO_RATE))
        at += len(voice) / AUDIO_RATE + 3.0  # a long pause: the music must come back in it
    spans = voice_spans([AudioChunk(0.0, speech)])
    assert len(merge_spans(spans, Ducking().bridge_s)) == len(PHRASES), spans
    for (a, b), (found_a, found_b) in zip(truth, merge_spans(spans, 0.3), strict=True):
        assert abs(found_a - a) < 0.35 and abs(found_b - b) < 0.6, (truth, spans)

    setting = Ducking(depth_db=-12.0, attack_s=0.03, release_s=0.08, carve_db=0.0)  # the gain alone
    ducked = duck(audio, spans, rate, setting)
    phrases = merge_spans(spans, setting.bridge_s)
    # under speech: the music is 12 dB down (the whole span, attack done before its first sample)
    under = level_db(ducked, rate, phrases) - level_db(audio, rate, phrases)
    assert under == pytest.approx(-12.0, abs=0.05)
    # between phrases, once the release is over and before the next attack: the unducked level
    pairs = zip(phrases[:-1], phrases[1:], strict=True)
    gaps = [(b + setting.release_s, c - setting.attack_s) for (_, b), (c, _) in pairs]
    gaps += [(phrases[-1][1] + setting.release_s, 12.0)]
    between = level_db(ducked, rate, gaps) - level_db(audio, rate, gaps)
    assert abs(between) < 0.01
    # the ramps take tens of milliseconds: halfway down 15 ms before the phrase, halfway up 40 ms after
    curve = gain_curve_db(spans, len(audio), rate, setting)
    start, end = phrases[0]
    assert curve[int((start - 0.015) * rate)] == pytest.approx(-6.0, abs=0.1)
    assert curve[int((end + 0.04) * rate)] == pytest.approx(-6.0, abs=0.1)
    assert curve[int((start - 0.031) * rate)] == 0.0 and curve[int((end + 0.081) * rate)] == 0.0


def test_depth_zero_changes_nothing_and_short_gaps_stay_ducked(music: tuple[np.ndarray, int]) -> None:
    audio, rate = music
    assert np.array_equal(duck(audio, [(1.0, 2.0)], rate, Ducking(depth_db=0.0)), audio)
    # a breath of 0.2 s between two words does not let the music pump back up
    curve = gain_curve_db([(1.0, 2.0), (2.2, 3.0)], len(audio), rate, Ducking())
    assert curve[int(2.1 * rate)] == Ducking().depth_db
    with pytest.raises(ValueError):
        Ducking(depth_db=3.0)


def test_the_speech_band_goes_further_down_and_the_rest_of_the_music_stays(music: tuple[np.ndarray, int]) -> None:
    audio, rate = music
    setting = Ducking(depth_db=-15.0, carve_db=-12.0, attack_s=0.03, release_s=0.08)
    phrase, pause = [(2.0, 5.0)], [(6.0, 11.0)]
    ducked = duck(audio, phrase, rate, setting)
    band, ducked_band = speech_band(audio, rate, setting.band_hz), speech_band(ducked, rate, setting.band_hz)
    inner = [(2.2, 4.8)]  # away from the ramps and the filter's edges
    # under speech the band where words are heard is down by depth + carve, the rest by the depth alone
    assert level_db(ducked_band, rate, inner) - level_db(band, rate, inner) == pytest.approx(-27.0, abs=0.5)
    # (re-splitting the ducked music leaks a little of the band's skirt into the rest: up to ~2 dB more)
    rest, ducked_rest = audio - band, ducked - ducked_band
    assert -18.0 < level_db(ducked_rest, rate, inner) - level_db(rest, rate, inner) < -14.5
    # between phrases the music is the music: the split adds back to it exactly
    assert np.max(np.abs(ducked[int(6.0 * rate):int(11.0 * rate)] - audio[int(6.0 * rate):int(11.0 * rate)])) < 1e-6
    assert np.array_equal(duck(audio, pause, rate, Ducking(depth_db=0.0)), audio)  # depth 0: no carve either
    with pytest.raises(ValueError):
        Ducking(carve_db=1.0)

"""The issue's measures on hand-made notes, and a render that keeps its peaks (float) and fades out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from emsync_models.music.analysis.measures import (
    on_grid_share,
    pulse_clarity,
    semitone_clash_share,
    silence_share,
)
from emsync_models.music.notes import Note
from emsync_models.render.audio import clipped_samples, fade_out, render_midi, synthesize_midi
from flows.settings import KNOWN_SOUNDFONTS


def test_clash_silence_grid_and_pulse_on_known_notes() -> None:
    triad = [Note(1, p, 80, 0.0, 2.0) for p in (60, 64, 67)]
    assert semitone_clash_share(triad, 4.0) == 0.0
    assert semitone_clash_share([Note(1, 60, 80, 0.0, 2.0), Note(1, 61, 80, 0.0, 2.0)], 2.0) == 1.0
    assert silence_share(triad, 4.0) == pytest.approx(0.5, abs=0.02)
    assert on_grid_share([0.0, 0.25, 1 / 3, 2.5]) == 1.0
    assert on_grid_share([0.13]) == 0.0
    metronome = [Note(0, 36, 100, 0.5 * i, 0.5 * i + 0.1) for i in range(40)]
    rng = np.random.default_rng(0)
    scattered = [Note(0, 36, 100, t, t + 0.1) for t in np.sort(rng.uniform(0, 20, 40))]
    assert pulse_clarity(metronome) > 0.8 > pulse_clarity(scattered)


def _soundfont() -> Path:
    found = next((p for p in KNOWN_SOUNDFONTS if p.is_file()), None)
    if found is None:
        pytest.skip("no General MIDI SoundFont installed")
    return found


def test_dense_render_is_not_clipped_and_fades(tmp_path: Path) -> None:
    midi = pretty_midi.PrettyMIDI()
    for program in (0, 48, 32, 61):
        inst = pretty_midi.Instrument(program)
        for k in range(8):
            for p in (48, 52, 55, 60, 64, 67):
                inst.notes.append(pretty_midi.Note(127, p, k * 0.25, k * 0.25 + 0.5))
        midi.instruments.append(inst)
    path = tmp_path / "dense.mid"
    midi.write(str(path))
    raw, sr = synthesize_midi(path, _soundfont())
    assert raw.dtype == np.float32 and np.isfinite(raw).all()  # float: peaks above 1 would survive here
    out = render_midi(path, tmp_path / "out.wav", _soundfont(), duration_s=2.0)
    audio, _ = sf.read(out, dtype="float32", always_2d=True)
    assert clipped_samples(audio) == 0 and np.abs(audio).max() <= 10 ** (-1 / 20) + 1e-3
    assert np.abs(audio[-50:]).max() < 0.02  # the short fade reaches silence at the end


def test_fade_out_is_linear_to_zero() -> None:
    faded = fade_out(np.ones((44100, 2), dtype=np.float32), 44100, 0.5)
    assert faded[0, 0] == 1.0 and faded[-1, 0] == 0.0 and faded[-11025, 0] == pytest.approx(0.5, abs=0.01)


def test_windowed_pulse_clarity_hears_each_sections_own_tempo() -> None:
    """Eighth notes at 120 BPM, then at 134 BPM (a hit-point tempo step): each section is metronomic."""
    from emsync_models.music.analysis.measures import local_pulse_clarity, pulse_clarity

    first = [Note(1, 60, 80, i * 0.25, i * 0.25 + 0.2) for i in range(60)]  # 15 s
    step = 0.25 * 120 / 134
    second = [Note(1, 64, 80, 15.0 + i * step, 15.0 + i * step + 0.15) for i in range(67)]
    steady = [Note(1, 60, 80, i * 0.25, i * 0.25 + 0.2) for i in range(120)]
    assert local_pulse_clarity(steady) > 0.9
    assert local_pulse_clarity(first + second) > 0.8
    assert pulse_clarity(first + second) < local_pulse_clarity(first + second)
    assert local_pulse_clarity(first[:3]) == 0.0


def _click_midi(tempos: list[float], beats_each: int = 16, offbeats: bool = True) -> pretty_midi.PrettyMIDI:
    """A sixteenth-long click on every beat (and a softer one on each off-beat), the tempo `tempos[i]`
    for `beats_each` beats in turn."""
    import io

    import symusic

    score = symusic.Score(480)
    track = symusic.Track("click", 0)
    for k, bpm in enumerate(tempos):
        score.tempos.append(symusic.Tempo(k * beats_each * 480, bpm))
        for beat in range(k * beats_each, (k + 1) * beats_each):
            track.notes.append(symusic.Note(beat * 480, 120, 60, 90))
            if offbeats:
                track.notes.append(symusic.Note(beat * 480 + 240, 120, 67, 60))
    score.tracks.append(track)
    return pretty_midi.PrettyMIDI(io.BytesIO(score.dumps_midi()))


def test_own_beat_timing_takes_a_tempo_maps_steps_out() -> None:
    """A click on every beat of a map that steps 100 -> 110 -> 94 BPM is one steady pulse on its own
    beat; on the clock the whole-piece measure sees two or three."""
    from emsync_models.music.eval.compare import on_own_beat, onset_beats

    midi = _click_midi([100.0, 110.0, 94.0], offbeats=False)
    notes = [Note(1, n.pitch, n.velocity, n.start, n.end) for n in midi.instruments[0].notes]
    assert len(notes) == 48
    steady = on_own_beat(midi, notes, onset_beats(midi, notes))
    assert pulse_clarity(notes) < 0.6
    assert pulse_clarity(steady) > 0.9
    gaps = np.diff([n.start for n in steady])
    assert np.allclose(gaps, gaps[0], atol=1e-3)


def test_downbeat_share_and_tempo_step_read_the_midi() -> None:
    from emsync_models.music.eval.compare import downbeat_share, largest_tempo_step

    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    midi.time_signature_changes = [pretty_midi.TimeSignature(4, 4, 0.0), pretty_midi.TimeSignature(3, 4, 2.0),
                                   pretty_midi.TimeSignature(4, 4, 3.5)]
    piano = pretty_midi.Instrument(0)
    piano.notes.append(pretty_midi.Note(80, 60, 0.0, 8.0))  # the MIDI's bars run as long as its notes
    midi.instruments.append(piano)
    # bars at 0, 2 (4/4 at 120 BPM), a 3/4 bar from 2 to 3.5, then 4/4 from 3.5 on
    assert downbeat_share(midi, [2.0, 3.5, 5.5]) == 1.0
    assert downbeat_share(midi, [2.5, 4.0]) == 0.0
    assert largest_tempo_step(midi) == 0.0
    stepped = _click_midi([100.0, 110.0, 99.0], beats_each=4, offbeats=False)
    assert abs(largest_tempo_step(stepped) - 0.1) < 1e-3


def test_beat_clicks_measure_what_a_tempo_map_alone_scores() -> None:
    """A click on each beat: about 1 on a constant tempo, far less where the map steps 100 -> 110 -> 94
    (the steps cost any music on that map most of its pulse)."""
    from emsync_models.music.eval.compare import beat_clicks

    steady = beat_clicks(_click_midi([100.0] * 8, beats_each=4), 11.9)
    assert len(steady) == 20 and steady[-1].start < 11.9
    assert pulse_clarity(steady) > 0.9
    stepped = beat_clicks(_click_midi([100.0, 110.0, 94.0, 100.0, 110.0, 94.0], beats_each=4), 12.0)
    gaps = np.diff([n.start for n in stepped])
    assert gaps.max() - gaps.min() > 0.05  # the clicks follow the map
    assert pulse_clarity(stepped) < 0.6


def test_eval_summary_keeps_each_pieces_pulse_and_click_for_the_picture(tmp_path: Path) -> None:
    from emsync_models.music.eval.compare import PULSE_POINT_KEYS, piece_measures, summarise
    from emsync_models.music.eval.pulse_plot import pulse_map_figure
    from flows.cli.music_v2 import comparison_table

    rng = np.random.default_rng(0)
    steady = piece_measures(_click_midi([100.0] * 2), 18.0, [6.0, 12.0], rng)
    stepped = piece_measures(_click_midi([100.0, 110.0, 94.0]), 27.0, [9.6, 18.3], rng)
    summary = summarise([steady, stepped], [])
    points = summary["pulse_points"]
    assert len(points) == 2 and all(len(p) == len(PULSE_POINT_KEYS) for p in points)
    (pc, click, _, _), (pc2, click2, _, _) = points
    assert click > 0.9 and click2 < 0.6  # a click on each beat of the stepped map scores low
    # the off-beats score a little above the beat click (the half-beat lag's steps are half as long in
    # ms) but the steps still cost the music most of its pulse
    assert pc > 0.8 and pc2 < 0.6
    corpus = summarise([steady], []) | {"density_p05": 1.0, "density_p95": 20.0}
    result = {"config": {}, "v2": summary, "corpus": corpus}
    picture = pulse_map_figure(result, tmp_path / "eval.pulse.png")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 20_000
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(comparison_table(result, ["v2"]))
    text = console.export_text()
    click_row = next(line for line in text.splitlines() if "a click on each beat" in line)
    assert f"{summary['map_pulse_clarity_median']:.3f}" in click_row

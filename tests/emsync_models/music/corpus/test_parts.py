"""Corpus v2's pure parts: groove library, charts, harmoniser, proxies (no MMA run)."""

from __future__ import annotations

import numpy as np
import pytest

from emsync_models.music.corpus.arrangement import PieceSpec, chart_for, plan_piece
from emsync_models.music.corpus.grooves import DEFAULT_STDLIB, GrooveFamily, groove_families, load_groove_library
from emsync_models.music.corpus.layout import PieceLabels, TempoPoint, chord_symbol
from emsync_models.music.corpus.progressions import Progression, RelChord, RelNote, harmonise
from emsync_models.music.corpus.proxies import arousal_proxy, valence_proxy

FAM = GrooveFamily("test", 4, (90, 120), ("Base",), ("BaseIntro",), ("BaseFill",), ("BaseEnd",))
PROG = Progression("romantext", "x.rntxt", "major", 4,
                   ((RelChord(0, "maj"),), (RelChord(5, "maj"), RelChord(7, "7")), (RelChord(9, "min"),)))


def _spec(**kw: object) -> PieceSpec:
    base = dict(id="000001", progression=0, family="test", groove="Base", intro="BaseIntro", fill="BaseFill",
                end="BaseEnd", tempo_bpm=100, tonic_pc=2, target_s=60.0, key_change=0, tempo_factor=1.0,
                melody=False, program_seed=1)
    base.update(kw)
    return PieceSpec(**base)  # type: ignore[arg-type]


def test_chord_symbols_use_mma_spellings() -> None:
    assert chord_symbol(9, "m7") == "Am7"
    assert chord_symbol(6, "dim") == "F#mb5"  # MMA's `dim` would be a diminished seventh
    assert chord_symbol(1, "maj") == "C#"


@pytest.mark.skipif(not DEFAULT_STDLIB.is_dir(), reason="Debian's mma is not installed")
def test_groove_library_has_families_meters_and_variants() -> None:
    families = groove_families(load_groove_library())
    assert len(families) >= 100
    assert families["waltz"].beats_per_bar == 3 and families["bossanova"].beats_per_bar == 4
    assert families["bossanova"].intro and families["bossanova"].end and families["bossanova"].fill
    assert "metronome" not in families


def test_chart_tiles_the_piece_and_writes_what_it_labels() -> None:
    chart = chart_for(_spec(), PROG, FAM)
    labels = chart.labels
    total = labels.n_bars * 4
    assert labels.chords[0].onset_beat == 0 and sum(c.duration_beats for c in labels.chords) == total
    assert 30.0 <= labels.beat_to_seconds(total) <= 90.0
    assert [s.kind for s in labels.sections] == ["intro", "main", "fill", "main", "end"]
    # every labelled chord symbol is in the script, on a numbered bar line
    bar_lines = [ln for ln in chart.mma.splitlines() if ln.split(" ")[0].isdigit()]
    assert len(bar_lines) == labels.n_bars
    for c in labels.chords:
        assert c.symbol in bar_lines[int(c.onset_beat // 4)].split()
    assert "AllTracks RTime 0" in chart.mma


def test_key_and_tempo_change_at_the_second_main_section() -> None:
    chart = chart_for(_spec(key_change=5, tempo_factor=1.2), PROG, FAM)
    second = [s for s in chart.labels.sections if s.kind == "main"][1].beat
    assert [(k.beat, k.tonic_pc) for k in chart.labels.keys] == [(0.0, 2), (second, 7)]
    assert [(t.beat, t.bpm) for t in chart.labels.tempo_map] == [(0.0, 100.0), (second, 120.0)]
    assert "Tempo 120" in chart.mma


def test_one_chord_a_bar_on_grooves_that_cannot_change_mid_bar() -> None:
    two = chart_for(_spec(), PROG, FAM)
    one = chart_for(_spec(), PROG, FAM, two_chord_grooves=frozenset())
    assert any(c.duration_beats == 2 for c in two.labels.chords)
    assert all(c.duration_beats % 4 == 0 for c in one.labels.chords)


def test_melody_follows_the_key() -> None:
    tune = Progression("folk", "t.abc", "major", 4, PROG.bars, (RelNote(0.0, 1.0, 72), RelNote(4.5, 1.0, 76)))
    chart = chart_for(_spec(melody=True, tonic_pc=2), tune, FAM)
    assert chart.melody and {p for _, _, p in chart.melody} <= {74, 78}


def test_plan_is_deterministic_and_melodies_match_meter() -> None:
    tune = Progression("folk", "t.abc", "major", 3, PROG.bars, (RelNote(0.0, 1.0, 72),))
    waltz = GrooveFamily("waltz", 3, (90, 150), ("Waltz",), (), (), ())
    a = [plan_piece(str(i), np.random.default_rng([0, i]), [tune], [FAM, waltz], 1.0) for i in range(20)]
    b = [plan_piece(str(i), np.random.default_rng([0, i]), [tune], [FAM, waltz], 1.0) for i in range(20)]
    assert a == b
    assert all(s.family == "waltz" for s in a if s.melody) and any(s.melody for s in a)


def test_harmoniser_follows_the_tune() -> None:
    # bars 1-2 outline C major, bar 3 G7 (B, D, F), bar 4 C: the Viterbi must find I I V I
    tune = [(0.0, 2, 0), (2.0, 2, 4), (4.0, 2, 7), (6.0, 2, 4), (8.0, 2, 11), (10.0, 2, 5), (12.0, 4, 0)]
    chords = harmonise(tune, "major", 4, 4.0)
    assert [c.root for c in chords] == [0, 0, 7, 0]


def test_proxies_order_mode_and_energy() -> None:
    from emsync_models.music.corpus.layout import ChartChord

    major = [ChartChord(0, 4, 0, "maj", "C"), ChartChord(4, 4, 7, "7", "G7")]
    minor = [ChartChord(0, 4, 9, "min", "Am"), ChartChord(4, 4, 2, "m7", "Dm7")]
    assert valence_proxy("major", major) > 0.5 > -0.5 > valence_proxy("minor", minor)
    assert arousal_proxy(170, 12, 8, 100) > arousal_proxy(110, 4, 4, 80) > arousal_proxy(65, 1, 0, 55)
    assert -1 <= arousal_proxy(300, 100, 100, 127) <= 1


def test_beat_to_seconds_integrates_the_tempo_map() -> None:
    labels = PieceLabels("x", 4, 4, (), (TempoPoint(0.0, 120.0), TempoPoint(8.0, 60.0)), (), (), "chart")
    assert labels.beat_to_seconds(8) == pytest.approx(4.0)
    assert labels.beat_to_seconds(12) == pytest.approx(8.0)


def test_parallel_mode_flips_the_modal_degrees() -> None:
    from emsync_models.music.corpus.progressions import parallel_mode

    minor = parallel_mode(PROG)
    assert minor.mode == "minor"
    assert [[(c.root, c.quality) for c in bar] for bar in minor.bars] == [[(0, "min")], [(5, "min"), (7, "7")],
                                                                          [(8, "maj")]]
    assert parallel_mode(minor).bars == PROG.bars
    chart = chart_for(_spec(mode_swap=True), PROG, FAM)
    assert chart.labels.keys[0].mode == "minor" and chart.labels.chords[0].quality == "min"


def test_cli_refuses_bad_arguments_in_one_line(tmp_path) -> None:  # noqa: ANN001
    import shutil

    from typer.testing import CliRunner

    from flows.cli.app import app

    runner = CliRunner(env={"COLUMNS": "400", "NO_COLOR": "1"})
    result = runner.invoke(app, ["data", "music", "build", "--out", str(tmp_path / "c"), "--limit", "0"])
    assert result.exit_code == 2 and "--limit must be >= 1" in result.output
    assert len(result.output.strip().splitlines()) == 1
    if shutil.which("mma") and DEFAULT_STDLIB.is_dir():
        result = runner.invoke(app, ["data", "music", "build", "--out", str(tmp_path / "c"), "--limit", "5",
                                     "--families", "nosuchstyle"])
        assert result.exit_code == 2 and "unknown groove families ['nosuchstyle']" in result.output

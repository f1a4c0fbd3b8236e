"""The plan before the notes: sections follow the scenes' feelings, keys and tempi move only between sections."""

from emsync_models.music.v2.plan import (
    MAX_SECTION_S,
    MIN_SECTION_S,
    emotion_at_time,
    feeling_of,
    plan_sections,
    plan_summary,
)
from emsync_models.music.v2.remi import BeatTokenizer
from emsync_models.music.v2.sections import bars_of, split_sections, transpose_tokens

CALM_SAD, EXCITED_HAPPY = (-0.5, -0.6), (0.6, 0.7)


def arc(feelings: list[tuple[float, float]], scene_s: float) -> tuple[tuple[float, float, float], ...]:
    return tuple((i * scene_s, v, a) for i, (v, a) in enumerate(feelings))


def test_the_first_scene_no_longer_decides_everything():
    """Calm then excited and excited then calm: each section's tempo, mode and drums are its own."""
    cuts = [float(t) for t in range(8, 120, 8)]
    one = plan_sections(arc([CALM_SAD] * 6 + [EXCITED_HAPPY] * 6, 10.0), cuts, 120.0)
    other = plan_sections(arc([EXCITED_HAPPY] * 6 + [CALM_SAD] * 6, 10.0), cuts, 120.0)
    assert len(one) == len(other) == 2
    for calm, excited in ((one[0], one[1]), (other[1], other[0])):
        assert calm.minor and not excited.minor
        assert calm.bpm < excited.bpm and calm.intensity < excited.intensity
        assert not calm.drums and excited.drums
    assert one[0].bpm == other[1].bpm * 1.0 or abs(one[0].bpm - other[1].bpm) < 25


def test_sections_split_on_turns_and_snap_to_cuts():
    cuts = [7.0, 14.0, 21.0, 28.0, 41.0, 49.0, 63.0, 70.0, 84.0]
    trajectory = ((0.0, *CALM_SAD), (40.0, *EXCITED_HAPPY), (62.0, *CALM_SAD))
    sections = plan_sections(trajectory, cuts, 95.0)
    assert [s.start_s for s in sections] == [0.0, 41.0, 63.0]  # the turns moved onto the nearest cuts
    assert [s.feeling for s in sections] == [feeling_of(*CALM_SAD), feeling_of(*EXCITED_HAPPY), feeling_of(*CALM_SAD)]
    assert sections[-1].end_s == 95.0


def test_a_returning_feeling_restates_its_theme_in_its_key():
    trajectory = arc([CALM_SAD, EXCITED_HAPPY, CALM_SAD, EXCITED_HAPPY, CALM_SAD], 40.0)
    sections = plan_sections(trajectory, [float(t) for t in range(10, 200, 10)], 200.0)
    assert [s.restates for s in sections] == [0, 0, 1, 1, 2]
    assert sections[2].key == sections[0].key and sections[3].key == sections[1].key
    assert sections[1].key == (sections[0].key + 3) % 12  # minor -> relative major: a neighbouring key
    summary = plan_summary(sections, piece_key=2)
    assert summary["returns"] == 3 and summary["key_changes"] == 4
    assert summary["sections"][0]["key_name"] == "D minor"


def test_short_turns_join_a_neighbour_and_long_stretches_are_split():
    trajectory = ((0.0, *CALM_SAD), (60.0, *EXCITED_HAPPY), (65.0, *CALM_SAD))  # a 5 s flash
    sections = plan_sections(trajectory, [], 600.0)
    assert all(s.duration_s >= MIN_SECTION_S for s in sections)
    assert all(s.duration_s <= MAX_SECTION_S + 1e-6 for s in sections)
    assert len({s.feeling for s in sections}) == 1 and len(sections) == 4
    assert sections[0].end_s == sections[1].start_s


def test_a_film_of_thousands_of_scenes_is_planned_quickly():
    feelings = [CALM_SAD, EXCITED_HAPPY, (0.3, 0.0), (-0.4, 0.5)]
    trajectory = tuple((i * 3.0, *feelings[(i // 20) % 4]) for i in range(2400))
    sections = plan_sections(trajectory, [i * 3.0 for i in range(1, 2400)], 7200.0)
    assert 7200.0 / MAX_SECTION_S <= len(sections) <= 7200.0 / MIN_SECTION_S
    assert emotion_at_time(trajectory, 61.0) == feelings[1]


def test_section_streams_split_cut_and_transpose():
    tok = BeatTokenizer()
    ids = [tok.bos, tok.bar, tok.vocab["Position_0"], tok.vocab["Chord_C:maj"], tok.vocab["Pitch_60"],
           tok.bar, tok.vocab["Position_0"], tok.vocab["Pitch_64"], tok.bos, tok.bar]
    first, second = split_sections(tok, ids)
    assert first[0] == second[0] == tok.bos and len(second) == 2
    assert bars_of(tok, first, 1, 2) == (tok.bar, tok.vocab["Position_0"], tok.vocab["Pitch_64"])
    moved = transpose_tokens(tok, first, -3)
    assert tok.names[moved[3]] == "Chord_A:maj" and tok.names[moved[4]] == "Pitch_57"


def test_the_plan_is_drawn_in_the_picture(tmp_path, monkeypatch):
    import matplotlib.axes
    import pretty_midi

    from emsync_models.plots import soundtrack_figure

    trajectory = arc([CALM_SAD, EXCITED_HAPPY, CALM_SAD], 40.0)
    plan = plan_summary(plan_sections(trajectory, [40.0, 80.0], 120.0))
    emotion = {"scenes": [{"start_s": s, "end_s": s + 40.0, "valence": v, "arousal": a} for s, v, a in trajectory]}
    drawn: list[str] = []
    original = matplotlib.axes.Axes.text

    def recording(self, x, y, s, *args, **kwargs):
        drawn.append(str(s))
        return original(self, x, y, s, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "text", recording)
    out = soundtrack_figure(emotion, [40.0, 80.0], 120.0, pretty_midi.PrettyMIDI(), [], tmp_path / "p.png", plan=plan)
    assert out.stat().st_size > 1000
    labels = [t for t in drawn if "BPM" in t]
    assert len(labels) == 3 and "C minor" in labels[0] and "Eb major" in labels[1]
    assert "theme 0 x2" in labels[2]  # the calm theme's return is marked


def test_a_section_comes_home_at_the_start_of_its_phrases():
    """The tonic on each 8-bar phrase's first downbeat, except near a cut, in a hold, inside a restated
    theme's harmony or in the closing bars; the chords given before stay."""
    from emsync_models.music.v2.bar_grid import FOUR_FOUR
    from emsync_models.music.v2.generator import HOME_PHRASE_BARS, SectionLayout, home_phrases
    from emsync_models.music.v2.remi import RESOLUTION
    from emsync_models.music.v2.sample import ForcedChord

    assert HOME_PHRASE_BARS == 8
    tonic, given = 7, 9
    lay = SectionLayout(0, 0.0, FOUR_FOUR, 42, cut_beats=(66,), last=False, hold=((126.0, 130.0),))
    forced = [ForcedChord(0, tonic), ForcedChord(66 * RESOLUTION), ForcedChord(160 * RESOLUTION, given)]
    out = {f.step // RESOLUTION: f.chord_id for f in home_phrases(forced, lay, tonic, lock=0)}
    # bars 8 (beat 32), 16 (64: a cut 2 beats on), 24 (96), 32 (128: a hold), 40 (the last two bars)
    assert out == {0: tonic, 32: tonic, 66: None, 96: tonic, 160: given}
    locked = {f.step // RESOLUTION for f in home_phrases(forced, lay, tonic, lock=40 * RESOLUTION)}
    assert 32 not in locked and 96 in locked

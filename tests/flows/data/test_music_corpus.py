"""Music corpus v2: a real ~20-piece build (MMA, music21, MidiTok), its labels checked against its notes."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pretty_midi
import pytest
import symusic

from emsync_models.music.corpus.check import chart_agreement
from emsync_models.music.corpus.layout import (
    QUALITY_INTERVALS,
    SECTION_KINDS,
    SPLITS,
    load_manifest,
    load_piece,
    read_manifest_lines,
)
from emsync_models.music.notes import midi_notes

pytestmark = [
    pytest.mark.skipif(shutil.which("mma") is None, reason="Debian's mma is not installed"),
    pytest.mark.slow,
]

# A 4/4 family with fills, a waltz, a latin and a ballad: all meters the small build needs, fast to audition.
FAMILIES = ("bossanova", "waltz", "folk", "slowcountry", "samba", "rock-128")
LIMIT = 20


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from flows.data.music_corpus import build_corpus

    out = tmp_path_factory.mktemp("corpus") / "c"
    summary = build_corpus(out, LIMIT, workers=1, seed=3, families=FAMILIES)
    assert summary.ok + summary.failed == LIMIT
    return out


def test_every_piece_builds_and_parses(corpus: Path) -> None:
    rows = load_manifest(corpus, status=None)
    assert [r.id for r in rows] == [f"{i:06d}" for i in range(LIMIT)]
    assert all(r.status == "ok" for r in rows), [r.reason for r in rows if r.status != "ok"]
    for row in rows:
        piece = load_piece(corpus, row.id, row)
        midi = pretty_midi.PrettyMIDI(str(piece.midi_path))
        assert midi_notes(midi), row.id
        assert row.token_count > 100
        assert row.groove_family in FAMILIES or row.source == "v1-score"


def test_labels_in_range(corpus: Path) -> None:
    for row in load_manifest(corpus):
        assert -1.0 <= row.valence <= 1.0 and -1.0 <= row.arousal <= 1.0
        assert 29.0 <= row.duration_s <= 91.0
        assert row.split in SPLITS
        assert row.mode in ("major", "minor") and 0 <= row.tonic_pc < 12
        labels = load_piece(corpus, row.id, row).labels
        for c in labels.chords:
            assert c.quality in QUALITY_INTERVALS and 0 <= c.root_pc < 12 and c.duration_beats > 0
        assert [s.kind for s in labels.sections if s.kind not in SECTION_KINDS] == []
        assert labels.sections[0].beat == 0.0


def test_grid_and_tempo_match_the_midi(corpus: Path) -> None:
    for row in load_manifest(corpus):
        piece = load_piece(corpus, row.id, row)
        labels = piece.labels
        total = labels.n_bars * labels.beats_per_bar
        # chords tile the piece: no gap, no overlap, first at beat 0, last ends at the last bar line
        assert labels.chords[0].onset_beat == 0.0
        for a, b in zip(labels.chords, labels.chords[1:], strict=False):
            assert a.onset_beat + a.duration_beats == pytest.approx(b.onset_beat)
        assert labels.chords[-1].onset_beat + labels.chords[-1].duration_beats == pytest.approx(total)
        score = symusic.Score(str(piece.midi_path))
        tpq = score.ticks_per_quarter
        tempos = {(t.time, round(t.qpm)) for t in score.tempos}
        assert {(round(p.beat * tpq), round(p.bpm)) for p in labels.tempo_map} <= tempos
        last_onset = max(n.time for t in score.tracks for n in t.notes)
        assert last_onset < total * tpq
        assert labels.beat_to_seconds(total) == pytest.approx(row.duration_s, abs=0.01)
        seconds = score.to("second")
        assert seconds.end() <= row.duration_s + 8.0  # an ending may ring on, not run on


def test_chart_chords_agree_with_an_independent_analysis(corpus: Path) -> None:
    spans = agreeing = 0
    for row in load_manifest(corpus):
        piece = load_piece(corpus, row.id, row)
        if piece.labels.chord_source != "chart":
            continue
        result = chart_agreement(piece.labels, midi_notes(pretty_midi.PrettyMIDI(str(piece.midi_path))))
        spans += result.spans
        agreeing += result.agreeing
    assert spans > 100
    assert agreeing / spans >= 0.90, f"{agreeing}/{spans}"


def test_a_killed_build_resumes_to_the_same_corpus(corpus: Path, tmp_path: Path) -> None:
    from flows.data.music_corpus import build_corpus

    copy = tmp_path / "c"
    shutil.copytree(corpus, copy)
    manifest = copy / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    # as if killed: the last 4 pieces never written (one batch half done), the one before torn
    for line in lines[-5:]:
        piece_id = json.loads(line)["id"]
        (copy / "midi" / f"{piece_id}.mid").unlink()
        (copy / "labels" / f"{piece_id}.json").unlink()
    manifest.write_text("".join(lines[:-5]) + lines[-5][:40])
    summary = build_corpus(copy, LIMIT, workers=1, seed=3, families=FAMILIES)
    assert summary.skipped == LIMIT - 5
    assert read_manifest_lines(manifest) == read_manifest_lines(corpus / "manifest.jsonl")
    for line in lines[-5:]:
        piece_id = json.loads(line)["id"]
        assert (copy / "midi" / f"{piece_id}.mid").read_bytes() == (corpus / "midi" / f"{piece_id}.mid").read_bytes()


def test_other_settings_in_the_same_folder_are_refused(corpus: Path) -> None:
    from flows.data.music_corpus import BuildError, build_corpus

    with pytest.raises(BuildError, match="use another --out"):
        build_corpus(corpus, LIMIT, workers=1, seed=4, families=FAMILIES)


def test_bad_pieces_are_recorded_not_raised(corpus: Path, tmp_path: Path) -> None:
    from emsync_models.music.corpus.grooves import groove_families, load_groove_library
    from emsync_models.music.corpus.progressions import Progression
    from flows.data import music_corpus as mc

    progressions = mc.load_sources(corpus, mc.source_items(3, mc._source_budget(LIMIT)), 1)
    families = {k: v for k, v in groove_families(load_groove_library()).items() if k in FAMILIES}
    specs = [s for s in mc.plan(3, LIMIT, progressions, families) if isinstance(s, mc.PieceSpec)]
    out = tmp_path / "bad"
    (out / "midi").mkdir(parents=True)
    (out / "labels").mkdir()
    garbage_mma = tmp_path / "fake-mma"
    garbage_mma.write_text("#!/bin/sh\nfor a; do last=$a; done\necho 'not midi' > \"$last\"\n")
    garbage_mma.chmod(0o755)
    empty = Progression("folk", "nowhere.abc", "major", 4, ())
    mc._init_worker([*progressions, empty], families, str(out), shutil.which("mma") or "mma", frozenset())
    cases = {
        "unknown groove family": replace(specs[0], family="no-such-family"),
        "has no bars": replace(specs[0], progression=len(progressions)),
        "mma failed": replace(specs[0], groove="NoSuchGroove"),
    }
    for expected, spec in cases.items():
        row = mc.build_piece(spec)
        assert row["status"] == "failed" and expected in row["reason"], row
        assert "\n" not in row["reason"]
        assert not (out / "midi" / f"{spec.id}.mid").exists()
    mc._init_worker(progressions, families, str(out), str(garbage_mma), frozenset())
    row = mc.build_piece(specs[0])
    assert row["status"] == "failed" and row["reason"], row


def test_loader_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_manifest(tmp_path)


def test_token_counts_are_midi_toks_remi_counts(corpus: Path) -> None:
    from flows.data.music_corpus import _tokenizer

    for row in load_manifest(corpus):
        piece = load_piece(corpus, row.id, row)
        tokens = _tokenizer()(symusic.Score(str(piece.midi_path)))
        encoded = len(tokens.ids if hasattr(tokens, "ids") else tokens[0].ids)
        assert row.token_count == encoded + len(piece.labels.chords), row.id

"""Hostile media (issue #15): playlists that read other files, MIDI that never ends, outputs over inputs,
containers the output cannot hold, and outputs in the container their suffix names."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import av
import mido
import pretty_midi
import pytest
from typer.testing import CliRunner

from emsync_models.emotion.sampling import stream_media
from emsync_models.errors import InputError
from emsync_models.render.audio import render_midi
from emsync_models.render.mux import mux_soundtrack
from emsync_models.video.probe import probe_video
from emsync_models.video.single_pass import detect_cuts
from flows.cli.app import app
from flows.settings import get_settings
from tests.media import ffmpeg, make_clip

runner = CliRunner()


# -- defect 1: playlists --------------------------------------------------------------------------------


@pytest.fixture
def hls_playlist(tmp_path: Path) -> Path:
    """An HLS playlist naming a 'private' video outside its folder, as an attacker's manifest would."""
    private = tmp_path / "private" / "secret.ts"
    private.parent.mkdir()
    ffmpeg("-f", "lavfi", "-i", "smptebars=size=160x120:duration=4", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-f", "mpegts", str(private))
    folder = tmp_path / "hls"
    folder.mkdir()
    playlist = folder / "list.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:4.0,\n{private}\n"
                        "#EXT-X-ENDLIST\n")
    # The attack works on an unguarded open: FFmpeg follows the playlist into the private file.
    with av.open(str(playlist)) as container:
        assert container.format.name == "hls" and container.streams.video
    return playlist


def test_hls_playlist_is_refused_on_every_open(hls_playlist: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a readable video.*single-file"):
        probe_video(hls_playlist)
    with pytest.raises(InputError, match="single-file"):
        detect_cuts(hls_playlist, 25.0)
    with pytest.raises(InputError, match="single-file"):
        next(iter(stream_media(hls_playlist, 2.0)))
    wav = tmp_path / "a.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=4", str(wav))
    with pytest.raises(InputError, match="single-file"):
        mux_soundtrack(hls_playlist, wav, tmp_path / "o.mp4", duration_s=4.0)
    assert not (tmp_path / "o.mp4").exists()


def test_hls_playlist_soundtrack_is_one_clear_line(hls_playlist: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["soundtrack", str(hls_playlist), "--out", str(tmp_path / "o.mp4")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "single-file containers" in result.output
    assert not (tmp_path / "o.mp4").exists()


# -- defect 2: renders that never end -------------------------------------------------------------------


def _hostile_midi(path: Path) -> Path:
    """Held notes with no note-off at all, and a note-on/note-off pair on one tick (zero length)."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("program_change", program=19, time=0))  # church organ: sustains while held
    track.append(mido.Message("note_on", note=60, velocity=100, time=0))
    track.append(mido.Message("note_on", note=64, velocity=100, time=0))
    track.append(mido.Message("note_on", note=67, velocity=100, time=240))
    track.append(mido.Message("note_off", note=67, velocity=0, time=0))
    track.append(mido.MetaMessage("end_of_track", time=480))
    mid.save(str(path))
    return path


@pytest.mark.slow
def test_render_of_unreleased_notes_is_bounded(tmp_path: Path) -> None:
    soundfont = get_settings().music.resolved_soundfont()
    if soundfont is None:
        pytest.skip("no General MIDI SoundFont installed")
    midi = _hostile_midi(tmp_path / "held.mid")
    start = time.perf_counter()
    wav = render_midi(midi, tmp_path / "out.wav", soundfont, duration_s=2.0)
    elapsed = time.perf_counter() - start
    import soundfile as sf

    audio, sr = sf.read(wav)
    assert len(audio) == 2 * sr
    assert elapsed < 30, f"render took {elapsed:.1f} s"
    assert not list(tmp_path.glob("*.pcm"))  # no scratch left next to the output


def _note_spans(path: Path) -> list[tuple[int, int | None]]:
    """(on tick, off tick or None) for every note-on in the file, in the order a synthesiser reads them."""
    spans: list[tuple[int, int | None]] = []
    for track in mido.MidiFile(str(path)).tracks:
        now = 0
        held: dict[tuple[int, int], list[int]] = {}
        for msg in track:
            now += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                held.setdefault((msg.channel, msg.note), []).append(now)
            elif msg.type in ("note_off", "note_on"):
                starts = held.get((msg.channel, msg.note))
                if starts:
                    spans.append((starts.pop(0), now))
        spans += [(s, None) for starts in held.values() for s in starts]
    return spans


def test_written_midi_releases_every_note_before_the_end(tmp_path: Path) -> None:
    from emsync_models.render.midi_file import playable_notes, write_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(program=0)
    piano.notes += [
        pretty_midi.Note(velocity=90, pitch=60, start=0.0, end=1.0),
        pretty_midi.Note(velocity=90, pitch=62, start=1.5, end=1.5),  # zero length
        pretty_midi.Note(velocity=90, pitch=64, start=1.9999, end=2.0),  # shorter than a tick, at the end
        pretty_midi.Note(velocity=90, pitch=65, start=1.2, end=5.0),  # past the end of the video
    ]
    pm.instruments.append(piano)
    # Written as is, the sub-tick notes come out as note-ons that are never released.
    pm.write(str(tmp_path / "raw.mid"))
    assert any(off is None or off <= on for on, off in _note_spans(tmp_path / "raw.mid"))

    out = write_midi(pm, tmp_path / "safe.mid", end_s=2.0)
    spans = _note_spans(out)
    end_tick = pm.time_to_tick(2.0)
    assert spans and all(off is not None and on < off <= end_tick for on, off in spans), spans
    assert len(pm.instruments[0].notes) == 4  # the caller's object is untouched
    assert len(playable_notes(pm, 2.0).instruments[0].notes) == 3  # the last-tick note cannot fit


# -- defects 6, 7, 10: containers and outputs -----------------------------------------------------------


def _container(path: Path) -> tuple[str, str]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=format_name:stream=codec_name",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    video = next(s["codec_name"] for s in data["streams"] if s["codec_name"] not in ("aac", "mp3", "opus"))
    return data["format"]["format_name"], video


@pytest.fixture(scope="module")
def vp8_webm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("webm") / "v.webm"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:duration=3", "-c:v", "libvpx", str(path))
    return path


FIXED = ["--valence", "0.3", "--arousal", "0.2", "--seed", "1", "--json"]


def test_vp8_webm_gets_a_soundtrack_in_mp4(vp8_webm: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    result = runner.invoke(app, ["soundtrack", str(vp8_webm), "--out", str(out), *FIXED])
    assert result.exit_code == 0, result.output
    fmt, codec = _container(out)
    assert "mp4" in fmt and codec == "h264"  # VP8 does not fit MP4: re-encoded, not copied
    assert abs(probe_video(out).duration_s - 3.0) < 0.1


@pytest.mark.parametrize(("suffix", "format_name"), [(".mkv", "matroska"), (".mov", "mov")])
def test_output_is_the_container_its_suffix_names(suffix: str, format_name: str, tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", seconds=2.0)
    out = tmp_path / f"o{suffix}"
    result = runner.invoke(app, ["soundtrack", str(src), "--out", str(out), *FIXED])
    assert result.exit_code == 0, result.output
    fmt, codec = _container(out)
    assert format_name in fmt.split(",") and "mp4" not in fmt.split(",")[:1], fmt
    assert codec == "h264"  # H.264 fits both: copied


def test_output_may_not_overwrite_the_input(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "s.mp4", seconds=2.0)
    before = src.read_bytes()
    for out in (src, tmp_path / "." / "s.mp4"):
        result = runner.invoke(app, ["soundtrack", str(src), "--out", str(out), *FIXED])
        assert result.exit_code == 2 and "would overwrite the input" in result.output, result.output
    link = tmp_path / "hard.mp4"
    link.hardlink_to(src)
    result = runner.invoke(app, ["soundtrack", str(src), "--out", str(link), *FIXED])
    assert result.exit_code == 2 and "would overwrite the input" in result.output
    assert src.read_bytes() == before


def test_the_plot_may_not_overwrite_the_input(tmp_path: Path) -> None:
    # A PNG is not a video, but it must fail for that reason and stay untouched, never become the plot,
    # even with --force (which replaces only files that are not the input).
    png = tmp_path / "in.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", str(png))
    before = png.read_bytes()
    result = runner.invoke(app, ["soundtrack", str(png), "--out", str(tmp_path / "in.mp4"),
                                 "--plot", str(png), "--force", *FIXED])
    assert result.exit_code == 2 and "would overwrite the input" in result.output, result.output
    assert png.read_bytes() == before
    assert not (tmp_path / "in.mp4").exists()



def test_a_stalled_synthesiser_is_stopped_and_fails_as_input(tmp_path: Path) -> None:
    """A synthesiser that neither finishes nor writes is stopped at its deadline; the job's MIDI is the
    cause (deterministic), so it is an input failure that the flows never retry."""
    from emsync_models.render.audio import RenderOverrun, synthesize

    stalled = tmp_path / "stalled-synth"
    stalled.write_text("#!/bin/sh\nexec sleep 60\n")
    stalled.chmod(0o755)
    midi = _hostile_midi(tmp_path / "held.mid")
    start = time.perf_counter()
    with pytest.raises(RenderOverrun, match="did not finish within 1 s") as caught:
        synthesize(str(stalled), midi, tmp_path / "none.sf2", sample_rate=8000, max_s=2.0, timeout_s=1.0)
    assert isinstance(caught.value, InputError)
    assert time.perf_counter() - start < 10

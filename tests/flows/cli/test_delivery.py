"""Files the user did not name are never written, and files that exist are never replaced without --force."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from typer.testing import CliRunner

from flows.cli.app import app

runner = CliRunner()
FIXED = ["--valence", "0.3", "--arousal", "0.2", "--seed", "1", "--json"]


def test_an_existing_png_beside_out_is_untouched(tmp_path: Path, clip_with_cuts: Path,
                                                 isolated_settings: Path) -> None:
    photo = tmp_path / "holiday.png"
    photo.write_bytes(os.urandom(4096))
    before, old = photo.read_bytes(), time.time() - 3600
    os.utime(photo, (old, old))
    mtime = photo.stat().st_mtime_ns
    out = tmp_path / "holiday.mp4"
    result = runner.invoke(app, ["soundtrack", str(clip_with_cuts), "--out", str(out), *FIXED])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    assert photo.read_bytes() == before and photo.stat().st_mtime_ns == mtime
    # nothing else appeared beside the video (no partial file, no picture)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["holiday.mp4", "holiday.png"]
    assert json.loads(result.stdout)["artifacts"]["plot"], "the picture is still stored with the job"


def test_the_picture_is_written_where_asked(tmp_path: Path, clip_with_cuts: Path, isolated_settings: Path) -> None:
    plot = tmp_path / "pics" / "timeline.png"
    plot.parent.mkdir()
    result = runner.invoke(app, ["soundtrack", str(clip_with_cuts), "--out", str(tmp_path / "o.mp4"),
                                 "--plot", str(plot), *FIXED])
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_existing_files_are_refused_without_force(tmp_path: Path, clip_with_cuts: Path,
                                                  isolated_settings: Path) -> None:
    out, plot = tmp_path / "o.mp4", tmp_path / "o.png"
    for existing, args in ((out, []), (plot, ["--plot", str(plot)])):
        existing.write_bytes(b"mine")
        result = runner.invoke(app, ["soundtrack", str(clip_with_cuts), "--out", str(out), *args, *FIXED])
        assert result.exit_code == 2, result.output
        assert "already exists; pass --force" in result.output and existing.name in result.output
        assert existing.read_bytes() == b"mine"
        existing.unlink()
    out.write_bytes(b"mine")
    result = runner.invoke(app, ["soundtrack", str(clip_with_cuts), "--out", str(out), "--force", *FIXED])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() != b"mine"


def test_help_says_where_each_file_goes() -> None:
    result = runner.invoke(app, ["soundtrack", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.replace("│", " ").split())
    for option in ("--out", "--plot", "--force"):
        assert option in text
    assert ("Files written: the video at --out and, only when asked, the picture at --plot and the deliverables "
            "in the --export folder.") in text
    assert "stems/NN-instrument.wav" in text


@pytest.mark.slow
def test_export_on_a_fresh_run_lists_every_file(tmp_path: Path, clip_with_cuts: Path,
                                                isolated_settings: Path) -> None:
    folder = tmp_path / "delivery"
    result = runner.invoke(app, ["soundtrack", str(clip_with_cuts), "--out", str(tmp_path / "o.mp4"),
                                 "--export", str(folder), *FIXED])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    files = report["files"]["export"]
    listed = [Path(files[k]) for k in ("midi", "audio", "plot", "report")] + [Path(p) for p in files["stems"].values()]
    on_disk = sorted(p for p in folder.rglob("*") if p.is_file())
    assert sorted(listed) == on_disk, "every file in the folder is listed, and every listed file exists"
    assert [p.name for p in sorted(listed)[:4]] == ["music.mid", "music.wav", "report.json", "soundtrack.png"]
    # one stem per instrument track that plays, named by its instrument
    tracks = [i for i in pretty_midi.PrettyMIDI(files["midi"]).instruments if i.notes]
    assert len(files["stems"]) == len(tracks) >= 1
    mix, _ = sf.read(files["audio"], dtype="float64")
    total = sum(sf.read(p, dtype="float64")[0] for p in files["stems"].values())
    error_db = 20 * np.log10(np.sqrt(np.mean((total - mix) ** 2)) / np.sqrt(np.mean(mix ** 2)))
    # the mix is rendered as the sum of the stems, so they sum to it within the 24-bit files' rounding
    assert error_db < -60.0, f"the stems differ from the mix by {error_db:.1f} dB"
    # the folder's report names the same files; the keys of the stored objects are still there
    exported = json.loads(Path(files["report"]).read_text())
    assert exported["files"]["export"] == files and exported["artifacts"] == report["artifacts"]
    # a second export into the same folder is refused without --force
    again = runner.invoke(app, ["soundtrack", str(clip_with_cuts), "--out", str(tmp_path / "o2.mp4"),
                                "--export", str(folder), *FIXED])
    assert again.exit_code == 2 and "not empty; pass --force" in again.output, again.output

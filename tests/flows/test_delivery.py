"""The files a job delivers land whole and together: a video without its picture (or the reverse) is never
left behind for a plain re-run to refuse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.delivery import DeliveryError, publish_all


def built(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / "built" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def test_a_destination_that_cannot_be_written_leaves_none_written(tmp_path: Path) -> None:
    video, plot = built(tmp_path, "v.mp4", 2048), built(tmp_path, "p.png", 512)
    out = tmp_path / "out.mp4"
    with pytest.raises(DeliveryError, match="could not write .*gone/out.png"):
        publish_all([(video, out), (plot, tmp_path / "gone" / "out.png")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built"]  # no video, no hidden partial


def test_a_full_disk_halfway_leaves_none_written_and_says_so(tmp_path: Path) -> None:
    # The output disk fills on the second file: the process may write 64 KiB per file at most.
    video, plot = built(tmp_path, "v.mp4", 16_000), built(tmp_path, "p.png", 200_000)
    code = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from flows.delivery import DeliveryError, publish_all\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))\n"
        f"d = Path({str(tmp_path)!r})\n"
        "try:\n"
        f"    publish_all([(Path({str(video)!r}), d / 'out.mp4'), (Path({str(plot)!r}), d / 'out.png')])\n"
        "except DeliveryError as exc:\n"
        "    print(exc); sys.exit(1)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 1, done.stderr
    assert "could not write" in done.stdout and "out.png" in done.stdout and "File too large" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built"]


def test_all_whole_files_land_together(tmp_path: Path) -> None:
    video, plot = built(tmp_path, "v.mp4", 4096), built(tmp_path, "p.png", 1024)
    publish_all([(video, tmp_path / "o.mp4"), (plot, tmp_path / "o.png")])
    assert (tmp_path / "o.mp4").read_bytes() == video.read_bytes()
    assert (tmp_path / "o.png").read_bytes() == plot.read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]

"""End-to-end wall time per stage for the 22 s sample video, on the embedded defaults.

    .venv/bin/python -m benchmarks.soundtrack [--runs 2]

The first run includes loading the models (a cold start, as a creator's one-off command sees it);
later runs reuse them (as a batch worker does). Prints a table and writes benchmarks/results/soundtrack.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from emsync_models.video.sample import build_sample_video
from flows.settings import Settings
from flows.soundtrack import STAGES, SoundtrackOptions, run_soundtrack


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "soundtrack.json")
    args = parser.parse_args()
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        settings = Settings(data_dir=work / "data")
        start = time.perf_counter()
        sample = build_sample_video(work / "sample.mp4")
        build_s = time.perf_counter() - start
        for run in range(args.runs):
            start = time.perf_counter()
            result = run_soundtrack(sample.path, work / f"out{run}.mp4", settings, SoundtrackOptions(seed=run))
            rows.append({**result.timings, "total": time.perf_counter() - start})
    table = Table(title=f"soundtrack job on the {sample.duration_s:.0f} s sample (s); sample build {build_s:.1f} s")
    table.add_column("run")
    for stage in (*STAGES, "total"):
        table.add_column(stage, justify="right")
    for i, row in enumerate(rows):
        label = "cold (loads models)" if i == 0 else "warm"
        table.add_row(label, *(f"{row.get(stage, 0.0):.2f}" for stage in (*STAGES, "total")))
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"video_s": sample.duration_s, "sample_build_s": build_s, "runs": rows}, indent=2))


if __name__ == "__main__":
    main()

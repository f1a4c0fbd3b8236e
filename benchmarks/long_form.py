"""Long-form scaling of v2's music stage: a 10-minute and a 2-hour film, peak memory and time per minute.

    python benchmarks/long_form.py [--minutes 10,120] [--json benchmarks/results/long_form.json]

Each length runs in its own process (its peak RSS is its own): the plan, the section-by-section
decoding, the MIDI written, from a held-out film's scene trajectory (`evaluate_longform.held_out_film`).
The shared machine's load moves wall time, so CPU seconds (the process's user + system time) per minute
of music are reported beside it; targets: the 2-hour film's peak memory within 1.5x of the 10-minute
film's, its CPU time per minute within 1.2x. While a length runs, its progress (bars written, CPU so
far) is written to the JSON, so a run cut short still says how fast it was going.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def child(minutes: float, progress_path: Path, midi_path: Path) -> None:
    """One film's music stage in this process, its progress appended to `progress_path`."""
    import torch

    from emsync_models.music.eval.long_form import held_out_film
    from emsync_models.music.registry import load
    from emsync_models.music.request import GenerationRequest

    torch.set_num_threads(1)
    gen = load("v2")
    film = held_out_film(minutes, 200)
    request = GenerationRequest(film.duration_s, film.cuts_s, film.trajectory, seed=0)
    marks: list[dict] = []
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            marks.append({"bars": done, "of": total, "cpu_s": round(time.process_time(), 2),
                          "wall_s": round(time.perf_counter() - started, 2),
                          "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})
            progress_path.write_text(json.dumps(marks))

    music = gen.generate(request, progress=progress)
    music.midi.write(str(midi_path))
    marks.append({"done": True, "cpu_s": round(time.process_time(), 2),
                  "wall_s": round(time.perf_counter() - started, 2),
                  "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "notes": sum(len(i.notes) for i in music.midi.instruments), "tokens": len(music.tokens),
                  "sections": len(music.plan["sections"])})
    progress_path.write_text(json.dumps(marks))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", default="10,120")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks/results/long_form.json")
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--progress", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--midi", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.progress, args.midi)
        return
    result: dict = {"stage": "music (plan, decoding, MIDI) of v2", "runs": {}}
    scratch = Path("/tmp") / f"emsync-long-form-{int(time.time())}"
    scratch.mkdir(parents=True, exist_ok=True)
    for minutes in [float(m) for m in args.minutes.split(",")]:
        progress = scratch / f"{minutes:g}.json"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--child", str(minutes), "--progress", str(progress),
                                 "--midi", str(scratch / f"{minutes:g}.mid")])
        while proc.poll() is None:
            time.sleep(15)
            if progress.is_file():
                result["runs"][f"{minutes:g}"] = {"minutes": minutes, "finished": False,
                                                   "progress": json.loads(progress.read_text() or "[]")}
                args.json.write_text(json.dumps(result, indent=2))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        marks = json.loads(progress.read_text() or "[]") if progress.is_file() else []
        result["runs"][f"{minutes:g}"] = {
            "minutes": minutes, "finished": proc.returncode == 0, "wall_s": round(time.perf_counter() - started, 1),
            "cpu_s": round(cpu, 1), "cpu_s_per_min": round(cpu / minutes, 2),
            "peak_rss_mb": marks[-1]["rss_mb"] if marks else None,  # the child's own peak
            "progress": marks,
        }
        args.json.write_text(json.dumps(result, indent=2))
    runs = [r for r in result["runs"].values() if r["finished"]]
    if len(runs) >= 2:
        short, long = runs[0], runs[-1]
        result["memory_ratio"] = round(long["peak_rss_mb"] / short["peak_rss_mb"], 3)
        result["cpu_per_min_ratio"] = round(long["cpu_s_per_min"] / short["cpu_s_per_min"], 3)
        result["targets"] = {"memory_ratio": "<= 1.5", "cpu_per_min_ratio": "<= 1.2"}
    args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Run two soundtrack jobs at once in this process, the way a catalog flow does (a thread each, under
the budget the flow sizes for `concurrency` jobs), and print every pool as seen before, during and after.

Run by tests/emsync_models/test_threads.py in a fresh interpreter: argv = two input videos, an output
folder. "During" samples come from both job threads at every stage boundary and from a sampler thread
every 10 ms (OpenCV's and the BLAS pools are process-wide; PyTorch's is read where the jobs run it).
"""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import torch

from emsync_models.threads import native_pools
from flows.runtime import apply_thread_budget
from flows.settings import get_settings
from flows.soundtrack import SoundtrackOptions, run_soundtrack


def pools() -> dict[str, object]:
    return {"torch_intra_op": torch.get_num_threads(), "torch_inter_op": torch.get_num_interop_threads(),
            "opencv": cv2.getNumThreads(), "pools": native_pools()}


def main(videos: list[Path], out_dir: Path) -> None:
    settings = get_settings()
    record = apply_thread_budget(settings, jobs_in_process=settings.batch.concurrency)  # as require_models does
    samples: dict[str, list[dict[str, object]]] = {"before": [pools()], "during": [], "after": []}
    lock = threading.Lock()
    stages: list[str] = []

    def seen(stage: str, done: float) -> None:
        with lock:
            samples["during"].append(pools())
            stages.append(f"{threading.current_thread().name}:{stage}:{done:g}")

    stop = threading.Event()

    def sampler() -> None:
        while not stop.wait(0.01):
            now = pools()
            with lock:
                samples["during"].append(now)

    watcher = threading.Thread(target=sampler, daemon=True)
    watcher.start()
    with ThreadPoolExecutor(max_workers=settings.batch.concurrency, thread_name_prefix="job") as pool:
        jobs = [pool.submit(run_soundtrack, video, out_dir / f"out{i}.mp4", settings, SoundtrackOptions(),
                            progress=seen) for i, video in enumerate(videos)]
        reports = [job.result().report for job in jobs]
    stop.set()
    watcher.join()
    samples["after"].append(pools())
    print(json.dumps({"record": record, "samples": samples, "stages": stages,
                      "reported": [r.get("threads") for r in reports]}))


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:3]], Path(sys.argv[3]))

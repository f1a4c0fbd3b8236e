"""The thread budget: one count, from one setting, applied to every pool in the process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from emsync_models.threads import (
    default_threads,
    fluidsynth_options,
    rapidocr_thread_kwargs,
    thread_env,
    usable_cores,
)
from flows.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_default_shares_the_cores_among_jobs() -> None:
    assert default_threads(16, 4) == 4
    assert default_threads(2, 2) == 1
    assert default_threads(2, 8) == 1, "never below one thread"
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)


def test_setting_overrides_and_defaults_divide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("emsync_models.threads.usable_cores", lambda: 8)
    assert Settings().resolved_threads() == 8
    assert Settings(host_workers=2).resolved_threads(jobs_in_process=2) == 2
    assert Settings(threads=3, host_workers=4).resolved_threads(jobs_in_process=2) == 3
    monkeypatch.setenv("EMSYNC_THREADS", "5")
    assert Settings().resolved_threads() == 5


def test_env_for_children_and_fluidsynth() -> None:
    env = thread_env(3)
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"
    assert fluidsynth_options(2) == ["-o", "synth.cpu-cores=2"]
    assert rapidocr_thread_kwargs(2) == {"intra_op_num_threads": 2, "inter_op_num_threads": 1}


def test_apply_sets_every_pool_in_a_fresh_process() -> None:
    # A fresh interpreter: the pools must be sized by apply_threads itself, not by an earlier test.
    code = (
        "import json, numpy, torch, cv2\n"
        "from threadpoolctl import threadpool_info\n"
        "from emsync_models.threads import apply_threads, onnx_session_options\n"
        "from emsync_models.emotion.extractors.text import load_rapidocr\n"
        "r = apply_threads(1).to_dict()\n"
        "o = onnx_session_options()\n"
        "read = load_rapidocr()\n"
        "ocr = dict(zip(read.__code__.co_freevars, (c.cell_contents for c in read.__closure__)))['engine']\n"
        "r['ocr'] = [s.get_session_options().intra_op_num_threads\n"
        "            for s in (ocr.text_det.infer.session, ocr.text_rec.session.session)]\n"
        "r.update(torch_now=torch.get_num_threads(), cv2_now=cv2.getNumThreads(),\n"
        "         blas=[p['num_threads'] for p in threadpool_info()], ort=o.intra_op_num_threads)\n"
        "print(json.dumps(r))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    import json

    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["threads"] == report["torch_intra_op"] == report["torch_now"] == 1
    assert report["torch_inter_op"] == 1
    assert report["opencv"] == report["cv2_now"] == 1
    assert report["ort"] == 1
    assert report["ocr"] == [1, 1], "RapidOCR's own ONNX Runtime sessions"
    assert report["blas_pools"] >= 1 and set(report["blas"]) == {1}


@pytest.mark.slow
def test_two_jobs_in_one_process_leave_every_pool_at_the_budget(tmp_path: Path) -> None:
    """A catalog flow runs `concurrency` jobs in one process: no job may change a pool under the other.

    A budget of 2 per job (EMSYNC_THREADS), so that a stage dropping a process-wide pool to one thread
    (what the emotion and music stages used to do for themselves) would show in the samples."""
    from tests.media import make_clip

    videos = [make_clip(tmp_path / f"in{i}.mp4", seconds=3.0, colors=("red", "blue")) for i in range(2)]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env.update(EMSYNC_CONCURRENCY="2", EMSYNC_THREADS="2", EMSYNC_DATA_DIR=str(tmp_path / "data"),
               PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, str(REPO / "tests" / "emsync_models" / "two_jobs_pools.py"),
                           *map(str, videos), str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    seen = json.loads(done.stdout.strip().splitlines()[-1])
    record = seen["record"]
    assert record["threads"] == 2 and record["jobs_in_process"] == 2
    models = {"torch_intra_op": record["torch_intra_op"], "torch_inter_op": record["torch_inter_op"],
              "opencv": record["opencv"]}
    assert models == {"torch_intra_op": 1, "torch_inter_op": 1, "opencv": 1}, "the models' pools: MODEL_THREADS"
    assert any(k.startswith("blas:") and n == 2 for k, n in record["pools"].items()), record["pools"]
    stages = seen["stages"]
    for job in {s.split(":")[0] for s in stages}:
        assert {"music:0", "music:1", "cuts:1", "render:1"} <= {":".join(s.split(":")[1:]) for s in stages
                                                                if s.startswith(job)}
    assert len({s.split(":")[0] for s in stages}) == 2, "both jobs ran, each in its own thread"
    sizes: dict[str, set[int]] = {}
    for moment in ("before", "during", "after"):
        for sample in seen["samples"][moment]:
            assert {k: sample[k] for k in models} == models, f"{moment}: {sample} (budget {record})"
            for pool, n in sample["pools"].items():
                sizes.setdefault(pool, set()).add(n)
    # Every native pool keeps one size for the whole process: the one the budget applied, or, for a
    # library first loaded by a job (a vendored OpenMP), the per-job budget it read from the environment.
    assert sizes == {pool: {record["pools"].get(pool, record["threads"])} for pool in sizes}, sizes
    assert len(seen["samples"]["during"]) > 20
    assert seen["reported"] == [record, record], "one record of what was applied, in each job's report"

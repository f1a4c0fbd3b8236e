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

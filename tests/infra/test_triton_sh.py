"""infra/triton.sh itself: start a real server on a fixture repository, call it, stop it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "infra" / "triton.sh"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("pytriton") is None,
                       reason="nvidia-pytriton (the tritonserver binary) is not installed"),
]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=360)


def test_start_call_stop(tmp_path):
    env = {**os.environ, "EMSYNC_TRITON_DIR": str(tmp_path / "triton"), "PYTHON": sys.executable,
           "EMSYNC_TRITON_REPOSITORY": str(REPO / "tests" / "serving" / "fixtures" / "model_repository")}
    started = run(["start"], env)
    assert started.returncode == 0, started.stderr
    try:
        values = dict(line.split("=", 1) for line in started.stdout.split())
        url = values["EMSYNC_TRITON_URL"]
        assert url.startswith("127.0.0.1:") and values["EMSYNC_TEST_TRITON_URL"] == url
        pid = int((tmp_path / "triton" / "triton.pid").read_text())
        assert run(["status"], env).returncode == 0

        import tritonclient.http as httpclient

        client = httpclient.InferenceServerClient(url)
        x = httpclient.InferInput("X", [3], "FP64")
        x.set_data_from_numpy(np.array([1.0, 2.0, 3.0]))
        result = client.infer("echo", [x])
        np.testing.assert_array_equal(result.as_numpy("Y"), [2.0, 4.0, 6.0])
        # The stub must run this interpreter's environment (torch from our venv), not the system Python.
        info = result.as_numpy("INFO")[0].decode()
        assert info.startswith(str(Path(sys.executable).parent)), info
        client.close()
    finally:
        stopped = run(["stop"], env)
    assert stopped.returncode == 0, stopped.stderr
    assert not Path(f"/proc/{pid}").exists()
    assert run(["status"], env).returncode != 0

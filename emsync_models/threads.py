"""One thread count, applied to every library here that would otherwise pick its own.

PyTorch, OpenMP/BLAS, OpenCV, ONNX Runtime and FluidSynth each default to "all cores". On a shared
machine (batch workers always are) those pools fight each other and any neighbour: PyTorch's spinning
OpenMP barrier made a 2-thread generator 3.4x slower than a 1-thread one next to a single busy process.
Callers decide the count (`flows.settings` reads it); this module only knows how to apply it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

# Read by OpenMP/BLAS runtimes when they load, and inherited by child processes. PASSIVE makes idle
# OpenMP threads sleep instead of spinning, so a thread that lost its core does not stall its team.
_COUNT_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")

# The models' own pools (PyTorch intra- and inter-op, OpenCV) run one thread whatever the budget: their
# work items are small (a few 64x64 faces at a time; one token of a small transformer at a time), so a
# thread hand-off costs more than it saves: a second thread made a 60 s v1 piece 2.0x slower on a quiet
# machine (0.9 s vs 1.9 s, benchmarks/music_load.py) and fights any neighbour for a core. Sized once for
# the process, so two jobs in one process never change them under each other.
MODEL_THREADS = 1

_applied: int | None = None


@dataclass(frozen=True)
class ThreadReport:
    """What `apply_threads` set, for the JSON report and metrics."""

    threads: int
    torch_intra_op: int | None
    torch_inter_op: int | None
    opencv: int | None
    blas_pools: int
    pools: dict[str, int] = field(default_factory=dict)  # every native pool after applying: "api:library" -> n

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads(cores: int, workers: int) -> int:
    """The cores shared evenly among the jobs the machine runs at once; at least one each."""
    return max(1, cores // max(1, workers))


def thread_env(threads: int) -> dict[str, str]:
    """Environment for libraries not loaded yet and for child processes (ffmpeg, fluidsynth...)."""
    return {**{name: str(threads) for name in _COUNT_VARS}, "OMP_WAIT_POLICY": "PASSIVE"}


def apply_threads(threads: int, model_threads: int | None = None) -> ThreadReport:
    """Size every thread pool in this process: the models' (PyTorch, OpenCV) to `model_threads`
    (default: `threads`), the rest (OpenMP/BLAS, and what children inherit) to `threads`. Call once,
    at process start.

    Safe to call again (a later call with the same counts changes nothing); PyTorch's inter-op pool
    can only be sized before its first use, so a late call leaves that one as it was.
    """
    global _applied
    model = threads if model_threads is None else model_threads
    if threads < 1 or model < 1:
        raise ValueError(f"threads must be at least 1, not {threads} / {model}")
    for name, value in thread_env(threads).items():
        os.environ[name] = value
    import cv2
    import torch

    blas = 0
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits

        # BLAS only: OpenMP is the models' pool (PyTorch's), sized just below.
        limiter = threadpool_limits(limits=threads, user_api="blas")
        blas = len(limiter.get_original_num_threads())
    torch.set_num_threads(model)
    try:
        torch.set_num_interop_threads(model)
    except RuntimeError:
        pass  # already used (e.g. a second call); the intra-op pool is the one that matters here
    cv2.setNumThreads(model)
    _applied = threads
    return ThreadReport(threads=threads, torch_intra_op=torch.get_num_threads(),
                        torch_inter_op=torch.get_num_interop_threads(), opencv=cv2.getNumThreads(), blas_pools=blas,
                        pools=native_pools())


def native_pools() -> dict[str, int]:
    """Every native thread pool loaded in this process (BLAS, OpenMP) and its size, as threadpoolctl
    sees it from the calling thread: "user_api:library" -> threads."""
    if "numpy" not in sys.modules:
        return {}
    import warnings

    from threadpoolctl import threadpool_info

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multiple values possible": each pool is listed on its own here
        return {f"{p['user_api']}:{os.path.basename(p['filepath'])}": int(p["num_threads"])
                for p in threadpool_info()}


def applied_threads() -> int | None:
    """The count `apply_threads` set in this process, or None if nobody set one."""
    return _applied


def onnx_session_options(threads: int | None = None) -> Any:  # noqa: ANN401 - onnxruntime.SessionOptions
    """ONNX Runtime session options sized to the budget (ORT keeps one pool per session)."""
    import onnxruntime as ort

    n = threads or _applied or 1
    options = ort.SessionOptions()
    options.intra_op_num_threads = n
    options.inter_op_num_threads = 1  # the OCR graphs are sequential: a second pool only adds hand-offs
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


def rapidocr_thread_kwargs(threads: int | None = None) -> dict[str, int]:
    """Keyword arguments for `RapidOCR(...)` (1.4: global options as kwargs) that size its ONNX Runtime
    sessions, which it builds itself, to the same budget."""
    return {"intra_op_num_threads": threads or _applied or 1, "inter_op_num_threads": 1}


def fluidsynth_options(threads: int | None = None) -> list[str]:
    """FluidSynth command-line options for the budget (it renders on one core unless told otherwise)."""
    return ["-o", f"synth.cpu-cores={threads or _applied or 1}"]


@contextmanager
def compute_threads(n: int) -> Iterator[None]:
    """Run torch and OpenCV with `n` threads, restoring the previous settings afterwards.

    For a process that does one thing (training). Never inside a job: the pools are the process's, so
    a job that changed them would change them under every other job the process runs.
    """
    import cv2
    import torch

    torch_before, cv_before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(n)
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        torch.set_num_threads(torch_before)
        cv2.setNumThreads(cv_before)

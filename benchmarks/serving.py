"""Serving benchmark: per-request latency and throughput of the models, through Triton and in-process,
at 1, 4 and 16 concurrent clients, in one run; Triton's /metrics read for queue and compute time.

The music models are v1 (midi_generator: tokens, decoded by the client) and v2 (midi_generator_v2: the
whole piece, planned, sampled and written as MIDI by the server; in-process the same generate() call).
`instance_tokens_per_s` is one Triton instance's own rate (tokens over its generation-loop time).

    python benchmarks/serving.py                       # starts Triton itself (infra/triton.sh), stops it after
    python benchmarks/serving.py --triton-url 127.0.0.1:8000 --metrics-url 127.0.0.1:8002
    python benchmarks/serving.py --repository /path/to/model_repository   # e.g. other weights

Workloads: the classifier gets one video's fused batch per request (--scenes rows, random features);
the generator gets one soundtrack per request (--duration-s seconds, a cut every 4 s, two emotion
segments, seed = request index, so every configuration generates the same set of soundtracks).
Each client is a thread with its own client object (tritonclient.http clients are not thread-safe;
MusicGenerator is one per worker). The in-process side loads the checkpoints the server's
config.pbtxt names, so both sides run the same weights.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from serving import protocol  # noqa: E402
from serving.client import InferenceClient  # noqa: E402
from serving.inprocess import InProcessClient  # noqa: E402
from serving.triton_http import TritonHttpClient, read_metrics  # noqa: E402
from serving.triton_model import MODEL_REPOSITORY, model_parameters, resolve_checkpoint  # noqa: E402


@dataclass
class Result:
    backend: str
    model: str
    clients: int
    requests: int
    wall_s: float
    latencies_s: list[float]
    tokens: int = 0
    server: dict[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.requests / self.wall_s

    def row(self) -> dict[str, object]:
        lat = sorted(self.latencies_s)
        p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
        return {"backend": self.backend, "model": self.model, "clients": self.clients, "requests": self.requests,
                "p50_ms": 1000 * statistics.median(lat), "p95_ms": 1000 * p95,
                "mean_ms": 1000 * statistics.fmean(lat), "req_per_s": self.throughput,
                "tokens_per_s": self.tokens / self.wall_s if self.tokens else None, **self.server}


def fused_batch(rows: int, seed: int) -> dict[str, np.ndarray]:
    from emsync_models.emotion.fused_input import CORE_DIMS, STEPS, mask_key

    rng = np.random.default_rng(seed)
    batch: dict[str, np.ndarray] = {}
    for modality, dim in CORE_DIMS.items():
        batch[modality] = rng.random((rows, STEPS, dim), dtype=np.float32)
        batch[mask_key(modality)] = rng.random((rows, STEPS)) > 0.3
    return batch


def generation_request(seed: int, duration_s: float):  # noqa: ANN201 - GenerationRequest
    from emsync_models.music.request import GenerationRequest

    cuts = tuple(float(t) for t in np.arange(4.0, duration_s, 4.0))
    emotion = ((0.0, 0.5, -0.3), (duration_s / 2, -0.4, 0.6))
    return GenerationRequest(duration_s=duration_s, boundaries_s=cuts, emotion=emotion, seed=seed)


def run_level(make_client: Callable[[], InferenceClient], work: Callable[[InferenceClient, int], int],
              clients: int, requests: int) -> tuple[float, list[float], int]:
    """`requests` calls spread over `clients` threads (a shared counter, so fast threads take more)."""
    per_thread = [make_client() for _ in range(clients)]
    for c in per_thread:  # connections and lazy model loads happen before the clock starts
        work(c, -1)
    latencies: list[float] = []
    tokens = [0]
    lock = threading.Lock()
    next_index = [0]

    def loop(client: InferenceClient) -> None:
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= requests:
                return
            start = time.perf_counter()
            n = work(client, i)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                tokens[0] += n

    threads = [threading.Thread(target=loop, args=(c,)) for c in per_thread]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    for c in per_thread:
        c.close()
    return wall, latencies, tokens[0]


def server_delta(before: dict, after: dict, model: str) -> dict[str, float]:
    b, a = before.get(model, {}), after.get(model, {})

    def d(key: str) -> float:
        return a.get(key, 0.0) - b.get(key, 0.0)

    n = d("nv_inference_request_success") or 1.0
    executions = d("nv_inference_exec_count") or 1.0
    loop_s = d("emsync_generation_duration_us") / 1e6
    per_instance = {"instance_tokens_per_s": d("emsync_generated_tokens") / loop_s} if loop_s > 0 else {}
    # midi_generator answers through response senders after execute() returns, so Triton's compute
    # time is only the hand-off; the model's own counter holds the generation loops' time.
    compute_us = d("emsync_generation_duration_us") or d("nv_inference_compute_infer_duration_us")
    return {"queue_ms": d("nv_inference_queue_duration_us") / n / 1000, "compute_ms": compute_us / n / 1000,
            "avg_batch": d("nv_inference_request_success") / executions, **per_instance}


def start_triton(state_dir: Path, repository: Path | None) -> dict[str, str]:
    env = {**os.environ, "EMSYNC_TRITON_DIR": str(state_dir), "PYTHON": sys.executable}
    if repository is not None:
        env["EMSYNC_TRITON_REPOSITORY"] = str(repository)
    out = subprocess.run([str(REPO / "infra" / "triton.sh"), "start"], env=env, check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return dict(line.split("=", 1) for line in out.split())


def stop_triton(state_dir: Path) -> None:
    env = {**os.environ, "EMSYNC_TRITON_DIR": str(state_dir)}
    subprocess.run([str(REPO / "infra" / "triton.sh"), "stop"], env=env, check=False)


def markdown(rows: list[dict[str, object]]) -> str:
    cols = ["model", "backend", "clients", "requests", "p50_ms", "p95_ms", "req_per_s", "tokens_per_s",
            "instance_tokens_per_s", "queue_ms", "compute_ms", "avg_batch"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            cells.append("" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--triton-url", help="a running server; default: start one with infra/triton.sh")
    ap.add_argument("--metrics-url", help="its metrics endpoint (host:port)")
    ap.add_argument("--repository", type=Path, help="model repository for the server this script starts")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--emotion-requests", type=int, default=64, help="requests per level (at least `clients`)")
    ap.add_argument("--music-requests", type=int, default=32, help="requests per level (at least `clients`)")
    ap.add_argument("--scenes", type=int, default=12, help="rows per classifier request (one video)")
    ap.add_argument("--duration-s", type=float, default=8.0, help="seconds of music per generator request")
    ap.add_argument("--backends", nargs="+", default=["triton", "inprocess"], choices=["triton", "inprocess"])
    music_models = list(protocol.MUSIC_MODELS.values())
    ap.add_argument("--models", nargs="+", default=[protocol.EMOTION_MODEL, *music_models],
                    choices=[protocol.EMOTION_MODEL, *music_models])
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "serving.json")
    args = ap.parse_args()

    state = Path(tempfile.mkdtemp(prefix="emsync-bench-triton-"))
    url, metrics_url = args.triton_url, args.metrics_url
    started = False
    if url is None:
        print("starting Triton (infra/triton.sh start) ...", flush=True)
        env = start_triton(state, args.repository)
        url, metrics_url, started = env["EMSYNC_TRITON_URL"], env["EMSYNC_TRITON_METRICS_URL"], True
    try:
        probe = TritonHttpClient(url, timeout_s=600.0)
        probe.wait_ready()

        def served(model: str) -> Path | None:
            return resolve_checkpoint(model_parameters(probe._config(model)).get("checkpoint", ""),
                                      MODEL_REPOSITORY / model)

        emotion_ckpt = served(protocol.EMOTION_MODEL)
        variants = {model: variant for variant, model in protocol.MUSIC_MODELS.items()}
        checkpoints = {variant: served(model) for model, variant in variants.items()}
        info = {"emotion": probe.emotion_model().__dict__}
        for model, variant in variants.items():
            info[model] = TritonHttpClient(url, music_variant=variant).music_model().__dict__
        probe.close()

        def factory(backend: str, model: str) -> Callable[[], InferenceClient]:
            variant = variants.get(model, "v1")
            if backend == "triton":
                return lambda: TritonHttpClient(url, timeout_s=600.0, music_variant=variant)
            return lambda: InProcessClient(emotion_checkpoint=emotion_ckpt, music_checkpoint=checkpoints[variant],
                                           music_model=variant)

        batches = [fused_batch(args.scenes, seed) for seed in range(8)]

        def emotion_work(client: InferenceClient, i: int) -> int:
            client.predict_emotion(batches[i % len(batches)])
            return 0

        def music_work(client: InferenceClient, i: int) -> int:
            return len(client.generate_tokens(generation_request(max(i, 0), args.duration_s if i >= 0 else 1.0)))

        def music_v2_work(client: InferenceClient, i: int) -> int:
            # the whole piece on both sides: Triton's v2 model plans, samples and writes the MIDI
            request = generation_request(max(i, 0), args.duration_s if i >= 0 else 1.0)
            return len(client.generate_music(request).tokens)

        results: list[Result] = []
        for model, work, count in ((protocol.EMOTION_MODEL, emotion_work, args.emotion_requests),
                                   (protocol.MUSIC_MODEL, music_work, args.music_requests),
                                   (protocol.MUSIC_MODEL_V2, music_v2_work, args.music_requests)):
            if model not in args.models:
                continue
            for backend in args.backends:
                for clients in args.clients:
                    before = read_metrics(metrics_url) if backend == "triton" and metrics_url else {}
                    wall, lat, tokens = run_level(factory(backend, model), work, clients, max(count, clients))
                    after = read_metrics(metrics_url) if backend == "triton" and metrics_url else {}
                    r = Result(backend, model, clients, len(lat), wall, lat, tokens,
                               server_delta(before, after, model) if after else {})
                    results.append(r)
                    row = r.row()
                    print(f"{model:15s} {backend:9s} clients={clients:2d} p50={row['p50_ms']:8.1f} ms "
                          f"thr={row['req_per_s']:7.2f} req/s {r.server}", flush=True)
    finally:
        if started:
            stop_triton(state)

    rows = [r.row() for r in results]
    table = markdown(rows)
    ratios = {}
    for model in (protocol.EMOTION_MODEL, *music_models):
        for backend in args.backends:
            by = {r.clients: r.throughput for r in results if r.model == model and r.backend == backend}
            if 1 in by and 4 in by:
                ratios[f"{model}/{backend} 4-vs-1 throughput"] = by[4] / by[1]
    print()
    print(table)
    print()
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}x")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"models": info, "cpu_count": os.cpu_count(), "load_avg": os.getloadavg(),
                                     "args": {k: str(v) for k, v in vars(args).items()}, "rows": rows,
                                     "ratios": ratios, "table": table}, indent=2))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()

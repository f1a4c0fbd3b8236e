"""Triton python backend for midi_generator: tensors -> GenerationRequest -> emsync_models' generator.

Triton hands over the dynamically batched requests as a list. Each request is independent (its own
seed, trajectory and length) and runs its own sampling loop; the loops run concurrently in threads
(torch releases the GIL inside its ops), each with its own generator, and each request is answered
through its response sender when its own loop ends. No request's numbers depend on another's, so
results equal the in-process ones exactly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

# <repo>/serving/model_repository/<model>/<version>/model.py
REPO_ROOT = Path(os.environ.get("EMSYNC_REPO_ROOT") or Path(__file__).resolve().parents[4])
if importlib.util.find_spec("emsync_models") is None:  # not pip-installed: serve from the checkout
    sys.path.append(str(REPO_ROOT))

from serving import protocol  # noqa: E402 - needs the path fix above
from serving.triton_model import (  # noqa: E402
    check_identity,
    error_response,
    model_parameters,
    resolve_checkpoint,
)

GENERATION_US = "emsync_generation_duration_us"
GENERATED_TOKENS = "emsync_generated_tokens"
INPUTS = (protocol.DURATION_S, protocol.EMOTION, protocol.BOUNDARIES_S, protocol.SEED, protocol.TEMPERATURE,
          protocol.TOP_P, protocol.TOP_K)


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        import torch

        from emsync_models.music.api import load_generator

        params = model_parameters(json.loads(args["model_config"]))
        torch.set_num_threads(int(params.get("torch_threads") or 1))
        checkpoint = resolve_checkpoint(params.get("checkpoint", ""), REPO_ROOT)
        # MusicGenerator is one per worker (its eval-time tables are rebuilt per call), so each loop
        # slot owns a generator; a slot is taken per request and execute() blocks while none is free,
        # so further requests wait in Triton's queue (visible in its queue-time metrics), not in ours.
        concurrent = max(1, int(params.get("concurrent_requests") or 4))
        generators = [load_generator(checkpoint) for _ in range(concurrent)]
        check_identity(params, generators[0].name, generators[0].version, checkpoint)
        self.free: queue.Queue = queue.Queue()
        for generator in generators:
            self.free.put(generator)
        self.pool = ThreadPoolExecutor(max_workers=concurrent, thread_name_prefix="midi_generator")
        # Triton's own compute metric ends when execute() hands a request to a loop, so the loops'
        # time and output go to /metrics as custom counters (read by benchmarks/serving.py).
        labels = {"model": args["model_name"], "version": args["model_version"]}
        self.families = [
            pb_utils.MetricFamily(name=name, description=text, kind=pb_utils.MetricFamily.COUNTER)
            for name, text in ((GENERATION_US, "time spent in generation loops, microseconds"),
                               (GENERATED_TOKENS, "tokens generated"))
        ]
        self.generation_us, self.generated_tokens = (f.Metric(labels=labels) for f in self.families)

    def execute(self, requests: list) -> None:
        # Each request is answered through its response sender as soon as its own loop ends, and
        # execute returns at once: Triton then hands this instance the next batch while earlier loops
        # still run, so a short soundtrack never waits for a long one batched with it.
        for request in requests:
            sender = request.get_response_sender()
            try:
                tensors = {}
                for name in INPUTS:
                    tensor = pb_utils.get_input_tensor_by_name(request, name)
                    if tensor is not None:
                        tensors[name] = tensor.as_numpy()
                params = protocol.GenerationParams.from_tensors(tensors)
            except Exception as exc:  # noqa: BLE001 - a malformed request fails alone
                sender.send(error_response(pb_utils, exc), flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
                continue
            self.pool.submit(self._answer, sender, params, self.free.get())
        return None

    def _answer(self, sender: object, params: protocol.GenerationParams, generator: object) -> None:
        from emsync_models.music.api import GenerationRequest

        try:
            start = time.perf_counter()
            tokens = np.asarray(generator.generate_tokens(GenerationRequest(**asdict(params))), np.int64)
            self.generation_us.increment((time.perf_counter() - start) * 1e6)
            self.generated_tokens.increment(float(tokens.size))
            response = pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor(protocol.TOKENS, np.ascontiguousarray(tokens[None, :]))])
        except Exception as exc:  # noqa: BLE001 - this request's error response; the others go on
            response = error_response(pb_utils, exc)
        finally:
            self.free.put(generator)
        sender.send(response, flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)

    def finalize(self) -> None:
        self.pool.shutdown(wait=True)

"""Triton python backend for midi_generator_v2: tensors -> GenerationRequest -> music v2's generator.

The generator plans the piece (hit points), samples and writes the MIDI here exactly as it does
in-process; the response carries the tokens, that MIDI file and the rest of the result
(serving/protocol.py: pack_music), so the client holds the same piece, bit for bit, for the same seed.
One request per execute(); concurrency comes from instances (each its own process and generator).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import triton_python_backend_utils as pb_utils

from serving import protocol
from serving.triton_model import (
    check_identity,
    error_response,
    model_parameters,
    resolve_checkpoint,
)

# <repository>/<model>/<version>/model.py: relative checkpoints in config.pbtxt live in <repository>/<model>/.
# emsync (emsync_models, serving) is installed in the interpreter the python backend runs.
MODEL_DIR = Path(__file__).resolve().parents[1]

GENERATION_US = "emsync_generation_duration_us"
GENERATED_TOKENS = "emsync_generated_tokens"
INPUTS = (protocol.DURATION_S, protocol.EMOTION, protocol.BOUNDARIES_S, protocol.SEED, protocol.TEMPERATURE,
          protocol.TOP_P, protocol.TOP_K, protocol.MIN_GAP_S, protocol.STYLE, protocol.INSTRUMENTS, protocol.DRUMS)


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        from emsync_models.music.v2.generator import load_generator_v2
        from emsync_models.threads import apply_threads

        params = model_parameters(json.loads(args["model_config"]))
        apply_threads(int(params.get("torch_threads") or 1))
        checkpoint = resolve_checkpoint(params.get("checkpoint", ""), MODEL_DIR)
        self.generator = load_generator_v2(checkpoint)
        check_identity(params, self.generator.name, self.generator.version, checkpoint)
        self.default_min_gap_s = self.generator.min_gap_s
        labels = {"model": args["model_name"], "version": args["model_version"]}
        self.families = [
            pb_utils.MetricFamily(name=name, description=text, kind=pb_utils.MetricFamily.COUNTER)
            for name, text in ((GENERATION_US, "time spent in generation loops, microseconds"),
                               (GENERATED_TOKENS, "tokens generated"))
        ]
        self.generation_us, self.generated_tokens = (f.Metric(labels=labels) for f in self.families)

    def execute(self, requests: list) -> list:
        from emsync_models.music.request import GenerationRequest

        responses = []
        for request in requests:  # max_batch_size 1: one request per call
            try:
                tensors = {}
                for name in INPUTS:
                    tensor = pb_utils.get_input_tensor_by_name(request, name)
                    if tensor is not None:
                        tensors[name] = tensor.as_numpy()
                params = protocol.GenerationParams.from_tensors(tensors)
                # One request at a time per instance: the merge gap is this request's alone.
                self.generator.min_gap_s = protocol.min_gap_from(tensors, self.default_min_gap_s)
                start = time.perf_counter()
                music = self.generator.generate(GenerationRequest(**asdict(params)))
                self.generation_us.increment((time.perf_counter() - start) * 1e6)
                self.generated_tokens.increment(float(len(music.tokens)))
                outputs = [pb_utils.Tensor(name, array) for name, array in protocol.pack_music(music).items()]
                responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
            except Exception as exc:  # noqa: BLE001 - this request's error response; the others go on
                responses.append(error_response(pb_utils, exc))
        return responses

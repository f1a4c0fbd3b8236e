"""Triton python backend for midi_generator: tensors -> GenerationRequest -> emsync_models' generator.

Each request is independent (its own seed, trajectory and length), so requests are run one after the
other in this instance; parallelism comes from several instances (see config.pbtxt).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
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

INPUTS = (protocol.DURATION_S, protocol.EMOTION, protocol.BOUNDARIES_S, protocol.SEED, protocol.TEMPERATURE,
          protocol.TOP_P, protocol.TOP_K)


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        import torch

        from emsync_models.music.api import load_generator

        params = model_parameters(json.loads(args["model_config"]))
        torch.set_num_threads(int(params.get("torch_threads") or 1))
        checkpoint = resolve_checkpoint(params.get("checkpoint", ""), REPO_ROOT)
        self.generator = load_generator(checkpoint)
        check_identity(params, self.generator.name, self.generator.version, checkpoint)

    def execute(self, requests: list) -> list:
        from emsync_models.music.api import GenerationRequest

        responses = []
        for request in requests:
            try:
                tensors = {}
                for name in INPUTS:
                    tensor = pb_utils.get_input_tensor_by_name(request, name)
                    if tensor is not None:
                        tensors[name] = tensor.as_numpy()
                params = protocol.GenerationParams.from_tensors(tensors)
                tokens = self.generator.generate_tokens(GenerationRequest(**asdict(params)))
                out = pb_utils.Tensor(protocol.TOKENS, np.ascontiguousarray(tokens, dtype=np.int64))
                responses.append(pb_utils.InferenceResponse(output_tensors=[out]))
            except Exception as exc:  # noqa: BLE001 - this request's error response; the others go on
                responses.append(error_response(pb_utils, exc))
        return responses

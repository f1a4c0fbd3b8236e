"""Triton python backend for emotion_fusion: adapts tensors, calls emsync_models' FusionPredictor.

Triton's python backend hands over the dynamically batched requests as a list without stacking them:
this model concatenates their rows, runs one forward pass, and splits the outputs back per request.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

# <repo>/serving/model_repository/<model>/<version>/model.py
REPO_ROOT = Path(os.environ.get("EMSYNC_REPO_ROOT") or Path(__file__).resolve().parents[4])
if importlib.util.find_spec("emsync_models") is None:  # not pip-installed: serve from the checkout
    sys.path.append(str(REPO_ROOT))

from serving.triton_model import (  # noqa: E402 - needs the path fix above
    check_identity,
    model_parameters,
    resolve_checkpoint,
)


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        import torch

        from emsync_models.emotion.predictor import FusionPredictor

        params = model_parameters(json.loads(args["model_config"]))
        torch.set_num_threads(int(params.get("torch_threads") or 1))
        checkpoint = resolve_checkpoint(params.get("checkpoint", ""), REPO_ROOT)
        self.predictor = FusionPredictor.default() if checkpoint is None else FusionPredictor.from_checkpoint(checkpoint)
        check_identity(params, self.predictor.name, self.predictor.version, checkpoint)
        self.input_names = [name for name, _, _ in self.predictor.input_spec()]

    def execute(self, requests: list) -> list:
        batches = []
        for request in requests:
            batch = {}
            for name in self.input_names:
                tensor = pb_utils.get_input_tensor_by_name(request, name)
                if tensor is not None:
                    batch[name] = tensor.as_numpy()
            batches.append(batch)

        responses: list = [None] * len(requests)
        # Requests can carry different optional inputs; only identical key sets stack into one pass.
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, batch in enumerate(batches):
            groups.setdefault(tuple(sorted(batch)), []).append(i)
        for keys, members in groups.items():
            try:
                if not keys:
                    raise ValueError(f"no inputs; expected some of {self.input_names}")
                stacked = {k: np.concatenate([batches[i][k] for i in members]) for k in keys}
                probs, va = self.predictor(stacked)
                start = 0
                for i in members:
                    rows = next(iter(batches[i].values())).shape[0]
                    responses[i] = pb_utils.InferenceResponse(output_tensors=[
                        pb_utils.Tensor("PROBS", np.ascontiguousarray(probs[start:start + rows], np.float32)),
                        pb_utils.Tensor("VALENCE_AROUSAL", np.ascontiguousarray(va[start:start + rows], np.float32)),
                    ])
                    start += rows
            except Exception as exc:  # noqa: BLE001 - becomes this group's error response, not a crash
                for i in members:
                    responses[i] = pb_utils.InferenceResponse(error=pb_utils.TritonError(f"{type(exc).__name__}: {exc}"))
        return responses

"""An independent NumPy/SciPy evaluation of a Keras 2 functional model straight from its HDF5.

It walks the graph in the file's `model_config` (inbound nodes, not our PyTorch module's structure)
and implements each layer's documented Keras semantics directly on NHWC arrays, so agreement with
the PyTorch port is evidence that both read the file the same way the Keras runtime would.
Only the layer kinds the `fer` mini-Xception uses are supported; anything else raises.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np
from scipy.special import softmax


def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, k: int, s: int, padding: str, value: float) -> np.ndarray:
    if padding == "valid":
        return x
    ph, pw = _same_pads(x.shape[1], k, s), _same_pads(x.shape[2], k, s)
    return np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=value)


def _windows(x: np.ndarray, k: int, s: int) -> np.ndarray:
    """[N, H, W, C] -> [N, Ho, Wo, k, k, C] sliding windows with stride s."""
    n, h, w, c = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    view = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))  # N, H-k+1, W-k+1, C, k, k
    return view[:, : (ho - 1) * s + 1 : s, : (wo - 1) * s + 1 : s].transpose(0, 1, 2, 4, 5, 3)


def conv2d(x: np.ndarray, kernel: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """Keras Conv2D: kernel HWIO, cross-correlation."""
    k = kernel.shape[0]
    win = _windows(_pad(x, k, stride, padding, 0.0), k, stride)
    return np.einsum("nhwijc,ijco->nhwo", win, kernel, optimize=True)


def depthwise2d(x: np.ndarray, kernel: np.ndarray, padding: str) -> np.ndarray:
    """Keras depthwise step of SeparableConv2D with depth multiplier 1: kernel [k, k, C, 1]."""
    k = kernel.shape[0]
    win = _windows(_pad(x, k, 1, padding, 0.0), k, 1)
    return np.einsum("nhwijc,ijc->nhwc", win, kernel[..., 0], optimize=True)


def maxpool2d(x: np.ndarray, k: int, s: int, padding: str) -> np.ndarray:
    return _windows(_pad(x, k, s, padding, -np.inf), k, s).max(axis=(3, 4))


def batchnorm(x: np.ndarray, w: dict[str, np.ndarray], eps: float) -> np.ndarray:
    return (x - w["moving_mean"]) / np.sqrt(w["moving_variance"] + eps) * w["gamma"] + w["beta"]


def _activation(x: np.ndarray, name: str) -> np.ndarray:
    if name == "linear":
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "softmax":
        return softmax(x, axis=-1)
    raise NotImplementedError(name)


def run_keras_hdf5(path: Path, x_nhwc: np.ndarray) -> np.ndarray:
    """Evaluate the model in float64 for input [N, H, W, C]; returns the output layer's values."""
    with h5py.File(path, "r") as f:
        raw = f.attrs["model_config"]
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)["config"]
        weights: dict[str, dict[str, np.ndarray]] = {}
        for name, group in f["model_weights"].items():
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
            weights[name] = {n.split("/")[-1].split(":")[0]: np.asarray(group[n], np.float64) for n in names}

    values: dict[str, np.ndarray] = {}
    for layer in config["layers"]:
        kind, name, cfg = layer["class_name"], layer["name"], layer["config"]
        inputs = [values[node[0]] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        w = weights.get(name, {})
        if kind == "InputLayer":
            out = np.asarray(x_nhwc, np.float64)
        elif kind == "Conv2D":
            out = conv2d(inputs[0], w["kernel"], cfg["strides"][0], cfg["padding"])
            if cfg.get("use_bias"):
                out = out + w["bias"]
            out = _activation(out, cfg["activation"])
        elif kind == "SeparableConv2D":
            assert cfg["depth_multiplier"] == 1 and cfg["strides"] == [1, 1]
            out = depthwise2d(inputs[0], w["depthwise_kernel"], cfg["padding"])
            out = np.einsum("nhwc,co->nhwo", out, w["pointwise_kernel"][0, 0], optimize=True)
            if cfg.get("use_bias"):
                out = out + w["bias"]
            out = _activation(out, cfg["activation"])
        elif kind == "BatchNormalization":
            out = batchnorm(inputs[0], w, cfg["epsilon"])
        elif kind == "Activation":
            out = _activation(inputs[0], cfg["activation"])
        elif kind == "MaxPooling2D":
            out = maxpool2d(inputs[0], cfg["pool_size"][0], cfg["strides"][0], cfg["padding"])
        elif kind == "Add":
            out = np.sum(inputs, axis=0)
        elif kind == "GlobalAveragePooling2D":
            out = inputs[0].mean(axis=(1, 2))
        else:
            raise NotImplementedError(kind)
        values[name] = out
    return values[config["output_layers"][0][0]]

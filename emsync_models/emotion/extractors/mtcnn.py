"""MTCNN face detection (Zhang et al. 2016, "Joint Face Detection and Alignment using Multitask Cascaded
Convolutional Networks") with the weights facenet-pytorch ships in its package data.

facenet-pytorch's own code imports torchvision (for `batched_nms`), which has no working CPU build here,
so its three state dicts are loaded into the small modules below (same layer names and shapes) and the
cascade and its non-maximum suppression are written out in NumPy/OpenCV. The stages follow
facenet-pytorch's `detect_face`: a PNet image pyramid, RNet on 24x24 crops, ONet on 48x48 crops with
five landmarks (eyes, nose, mouth corners).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn


class PNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(self.pool1(self.prelu1(self.conv1(x)))))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # The weights were converted from Caffe's (W, H) flattening order.
        x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)


def facenet_data_dir() -> Path:
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("facenet-pytorch is not installed (it ships the MTCNN weights)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _load(module: nn.Module, name: str, data_dir: Path | None) -> nn.Module:
    path = (data_dir or facenet_data_dir()) / f"{name}.pt"
    state = torch.load(path, map_location="cpu", weights_only=True)
    # Softmax layers have no parameters; everything else must match one to one.
    module.load_state_dict(state, strict=True)
    return module.eval()


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, method: str = "union") -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first.

    boxes float [N, 4] (x1, y1, x2, y2, inclusive pixel corners as MTCNN uses them); `method` "union"
    is IoU, "min" divides the overlap by the smaller box (drops a box nested in a bigger one).
    """
    if boxes.shape[0] == 0:
        return np.zeros(0, np.int64)
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores, kind="stable")[::-1]
    keep: list[int] = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if method == "min" else area[i] + area[rest] - inter
        order = rest[inter / denom <= threshold]
    return np.asarray(keep, np.int64)


def _square(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, 0] += reg[:, 0] * w
    out[:, 1] += reg[:, 1] * h
    out[:, 2] += reg[:, 2] * w
    out[:, 3] += reg[:, 3] * h
    return out


def _crops(image: np.ndarray, boxes: np.ndarray, size: int) -> torch.Tensor:
    """Normalised NCHW crops of `boxes` (clipped to the image), resized to size x size."""
    h, w = image.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(int)):
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
        if x2 > x1 and y2 > y1:
            out[k] = cv2.resize(image[y1:y2, x1:x2], (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy((out - 127.5) * 0.0078125).permute(0, 3, 1, 2).contiguous()


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]   # x1, y1, x2, y2 in pixels
    prob: float                              # ONet's face probability
    landmarks: np.ndarray                    # float [5, 2] (x, y): left eye, right eye, nose, mouth corners

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


class MTCNN:
    """detect(rgb uint8 [H, W, 3]) -> faces, most probable first."""

    def __init__(self, min_face: int = 24, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
                 factor: float = 0.709, data_dir: Path | None = None) -> None:
        self.pnet = _load(PNet(), "pnet", data_dir)
        self.rnet = _load(RNet(), "rnet", data_dir)
        self.onet = _load(ONet(), "onet", data_dir)
        self.min_face = min_face
        self.thresholds = thresholds
        self.factor = factor

    @torch.inference_mode()
    def detect(self, rgb: np.ndarray) -> list[Face]:
        image = np.ascontiguousarray(rgb[..., :3]).astype(np.float32)
        h, w = image.shape[:2]
        boxes = self._stage1(image, h, w)
        if boxes.shape[0]:
            boxes = self._refine(image, boxes)
        if not boxes.shape[0]:
            return []
        reg, points, probs = self.onet(_crops(image, boxes, 48))
        score = probs[:, 1].numpy()
        ok = score > self.thresholds[2]
        boxes, reg, points, score = boxes[ok], reg.numpy()[ok], points.numpy()[ok], score[ok]
        bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        bh = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        landmarks = np.stack([bw * points[:, :5] + boxes[:, :1] - 1, bh * points[:, 5:] + boxes[:, 1:2] - 1], -1)
        boxes = _regress(boxes, reg)
        keep = nms(boxes, score, 0.7, "min")
        faces = [Face(tuple(float(v) for v in np.clip(boxes[i, :4], 0, [w, h, w, h])), float(score[i]),
                      landmarks[i]) for i in keep]
        return sorted(faces, key=lambda f: -f.prob)

    def _stage1(self, image: np.ndarray, h: int, w: int) -> np.ndarray:
        scale = 12.0 / self.min_face
        side = min(h, w) * scale
        found = []
        while side >= 12:
            sh, sw = int(h * scale + 1), int(w * scale + 1)
            data = (cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA) - 127.5) * 0.0078125
            reg, probs = self.pnet(torch.from_numpy(data).permute(2, 0, 1)[None].contiguous())
            prob, reg = probs[0, 1].numpy(), reg[0].numpy()
            ys, xs = np.nonzero(prob >= self.thresholds[0])
            if ys.size:
                # Each PNet output cell is a 12x12 window at stride 2 of the scaled image.
                q1 = np.floor((2 * np.stack([xs, ys], 1) + 1) / scale)
                q2 = np.floor((2 * np.stack([xs, ys], 1) + 12) / scale)
                cand = np.concatenate([q1, q2, prob[ys, xs, None], reg[:, ys, xs].T], 1)
                found.append(cand[nms(cand[:, :4], cand[:, 4], 0.5)])
            scale *= self.factor
            side *= self.factor
        if not found:
            return np.zeros((0, 5), np.float32)
        cand = np.concatenate(found)
        cand = cand[nms(cand[:, :4], cand[:, 4], 0.7)]
        boxes = _regress(cand[:, :4], cand[:, 5:9])
        return _square(np.concatenate([boxes, cand[:, 4:5]], 1))

    def _refine(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        reg, probs = self.rnet(_crops(image, boxes, 24))
        score = probs[:, 1].numpy()
        ok = score > self.thresholds[1]
        boxes = np.concatenate([boxes[ok, :4], score[ok, None]], 1)
        reg = reg.numpy()[ok]
        keep = nms(boxes[:, :4], boxes[:, 4], 0.7)
        boxes, reg = boxes[keep], reg[keep]
        return _square(_regress(boxes, reg)) if boxes.shape[0] else boxes


def align_face(grey: np.ndarray, face: Face, size: int = 64, margin: float = 0.15) -> np.ndarray:
    """uint8 [size, size]: the face rotated so its eyes are level, cropped square with a margin.

    FER2013 faces are roughly upright and centred; levelling the eyes removes head roll, which
    otherwise moves mouth and brow features away from where the expression network learnt them.
    """
    (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]
    angle = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
    x1, y1, x2, y2 = face.box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    rot = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    rotated = cv2.warpAffine(grey, rot, (grey.shape[1], grey.shape[0]), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
    half = max(x2 - x1, y2 - y1) * (0.5 + margin)
    h, w = grey.shape
    a, b = int(max(0, cx - half)), int(max(0, cy - half))
    c, d = int(min(w, cx + half)), int(min(h, cy + half))
    if c - a < 2 or d - b < 2:
        return np.zeros((size, size), np.uint8)
    return cv2.resize(rotated[b:d, a:c], (size, size), interpolation=cv2.INTER_AREA)

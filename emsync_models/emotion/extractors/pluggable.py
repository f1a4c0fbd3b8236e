"""Optional extractors enabled by pointing settings at local weights: CLIP, an audio tagger, Whisper.

All three load Hugging Face `transformers` model folders (config.json + weights, as written by
`save_pretrained`) strictly from disk: the hub is forced offline and `local_files_only` is set, so
a missing file fails instead of downloading. `transformers` is imported only here, lazily, so the
default pipeline never needs it.

open_clip is not used: it imports torchvision, and PyPI's torchvision build for this torch is the
CUDA one, which cannot load against CPU-only torch. `transformers.CLIPModel` reads the same OpenAI
CLIP weights (in Hugging Face layout) without torchvision; preprocessing is done here in NumPy/cv2.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from emsync_models.emotion.extractors.base import Extractor, FeatureTrack
from emsync_models.emotion.extractors.text import MINILM_DIM, TextEncoder, load_minilm
from emsync_models.video.media import AUDIO_RATE, AudioChunk, VideoFrame

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def _transformers() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import transformers
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("pluggable extractors need the `transformers` package") from exc
    return transformers


def weights_fingerprint(folder: Path) -> str:
    """Short digest of a model folder's config and weight-file sizes: part of the cache version."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder}: not a model folder (no config.json)")
    digest = hashlib.sha256((folder / "config.json").read_bytes())
    for f in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        digest.update(f"{f.name}:{f.stat().st_size}".encode())
    return digest.hexdigest()[:12]


class _BlockAudio(Extractor):
    """Shared buffering for audio models that read fixed-length blocks."""

    input = "audio"
    block_s: float = 10.0

    def begin(self) -> None:
        self._buffer: list[np.ndarray] = []
        self._buffered = 0
        self._start = 0.0
        self._times: list[float] = []
        self._rows: list[np.ndarray] = []
        self._mask: list[bool] = []

    def add(self, item: VideoFrame | AudioChunk) -> None:
        assert isinstance(item, AudioChunk)
        self._buffer.append(item.samples)
        self._buffered += item.samples.size
        block = int(self.block_s * AUDIO_RATE)
        while self._buffered >= block:
            audio = np.concatenate(self._buffer)
            self._emit(audio[:block])
            rest = audio[block:]
            self._buffer, self._buffered = [rest], rest.size

    def _emit(self, audio: np.ndarray) -> None:
        row, valid = self.block_features(audio)
        self._times.append(self._start + audio.size / AUDIO_RATE / 2)
        self._rows.append(row)
        self._mask.append(valid)
        self._start += audio.size / AUDIO_RATE

    def block_features(self, audio: np.ndarray) -> tuple[np.ndarray, bool]:
        raise NotImplementedError

    def finish(self, duration_s: float) -> FeatureTrack:
        if self._buffered >= AUDIO_RATE // 2:  # a last half second or more is worth a block
            self._emit(np.concatenate(self._buffer))
        return FeatureTrack.from_rows(self._times, self._rows, self._mask, self.dim)


class ClipExtractor(Extractor):
    """dim = CLIP projection size: L2-normalised image embedding per sampled frame."""

    name = "clip"
    input = "frames"

    def __init__(self, model: Any, version: str, rate_hz: float = 0.5) -> None:
        self.model = model.eval()
        self.dim = int(model.config.projection_dim)
        self.image_size = int(model.config.vision_config.image_size)
        self.version = version
        self.rate_hz = rate_hz
        self.begin()

    @classmethod
    def from_weights(cls, folder: Path, rate_hz: float = 0.5) -> ClipExtractor:
        model = _transformers().CLIPModel.from_pretrained(str(folder), local_files_only=True)
        return cls(model, f"clip/{weights_fingerprint(folder)}", rate_hz)

    def preprocess(self, rgb: np.ndarray) -> torch.Tensor:
        """CLIP's own recipe: shortest side to image_size (bicubic), centre crop, normalise."""
        h, w = rgb.shape[:2]
        scale = self.image_size / min(h, w)
        resized = cv2.resize(rgb, (max(self.image_size, round(w * scale)), max(self.image_size, round(h * scale))),
                             interpolation=cv2.INTER_CUBIC)
        y0 = (resized.shape[0] - self.image_size) // 2
        x0 = (resized.shape[1] - self.image_size) // 2
        crop = resized[y0:y0 + self.image_size, x0:x0 + self.image_size].astype(np.float32) / 255.0
        return torch.from_numpy(((crop - CLIP_MEAN) / CLIP_STD).transpose(2, 0, 1)[None].copy())

    def begin(self) -> None:
        self._times: list[float] = []
        self._rows: list[np.ndarray] = []

    @torch.inference_mode()
    def add(self, item: VideoFrame | AudioChunk) -> None:
        assert isinstance(item, VideoFrame)
        out = self.model.get_image_features(pixel_values=self.preprocess(item.rgb))
        emb = out if isinstance(out, torch.Tensor) else out.pooler_output
        emb = torch.nn.functional.normalize(emb, dim=-1)[0].numpy()
        self._times.append(item.t)
        self._rows.append(emb)

    def finish(self, duration_s: float) -> FeatureTrack:
        return FeatureTrack.from_rows(self._times, self._rows, [True] * len(self._times), self.dim)


class AudioTaggerExtractor(_BlockAudio):
    """dim = number of tags: sigmoid tag probabilities of an Audio Spectrogram Transformer per block."""

    name = "tagger"

    def __init__(self, model: Any, feature_extractor: Any, version: str, block_s: float = 10.0) -> None:
        self.model = model.eval()
        self.features = feature_extractor
        self.dim = int(model.config.num_labels)
        self.version = version
        self.block_s = block_s
        self.begin()

    @classmethod
    def from_weights(cls, folder: Path, block_s: float = 10.0) -> AudioTaggerExtractor:
        tf = _transformers()
        model = tf.ASTForAudioClassification.from_pretrained(str(folder), local_files_only=True)
        if (Path(folder) / "preprocessor_config.json").is_file():
            fe = tf.ASTFeatureExtractor.from_pretrained(str(folder), local_files_only=True)
        else:
            fe = tf.ASTFeatureExtractor(num_mel_bins=model.config.num_mel_bins, max_length=model.config.max_length)
        return cls(model, fe, f"ast/{weights_fingerprint(folder)}", block_s)

    @torch.inference_mode()
    def block_features(self, audio: np.ndarray) -> tuple[np.ndarray, bool]:
        inputs = self.features(audio, sampling_rate=AUDIO_RATE, return_tensors="pt")
        logits = self.model(**inputs).logits
        return torch.sigmoid(logits)[0].numpy().astype(np.float32), True


class SpeechExtractor(_BlockAudio):
    """dim 384: Whisper transcribes each 30 s block (greedy), MiniLM embeds the transcript.

    Its modality is "whisper", beside (not instead of) the built-in pocketsphinx "speech" modality.

    Greedy decoding is written out here rather than using `generate`, whose Whisper variant expects
    language/task tables that only the official checkpoints' generation configs carry.
    """

    name = "whisper"
    dim = MINILM_DIM

    def __init__(self, model: Any, processor: Any, version: str, encoder: TextEncoder | None = None,
                 block_s: float = 30.0, max_tokens: int = 96) -> None:
        self.model = model.eval()
        self.processor = processor
        self.version = version
        self.block_s = block_s
        self.max_tokens = max_tokens
        self._encoder = encoder
        self.begin()

    @classmethod
    def from_weights(cls, folder: Path, encoder: TextEncoder | None = None) -> SpeechExtractor:
        tf = _transformers()
        model = tf.WhisperForConditionalGeneration.from_pretrained(str(folder), local_files_only=True)
        processor = tf.WhisperProcessor.from_pretrained(str(folder), local_files_only=True)
        return cls(model, processor, f"whisper/{weights_fingerprint(folder)}/minilm-l6-v2", encoder)

    @torch.inference_mode()
    def transcribe(self, audio: np.ndarray) -> str:
        features = self.processor.feature_extractor(audio, sampling_rate=AUDIO_RATE, return_tensors="pt")
        encoded = self.model.model.encoder(features.input_features).last_hidden_state
        config = self.model.config
        tokens = [config.decoder_start_token_id]
        for _ in range(self.max_tokens):
            out = self.model(encoder_outputs=(encoded,), decoder_input_ids=torch.tensor([tokens]))
            nxt = int(out.logits[0, -1].argmax())
            if nxt == config.eos_token_id:
                break
            tokens.append(nxt)
        return str(self.processor.tokenizer.decode(tokens[1:], skip_special_tokens=True)).strip()

    def block_features(self, audio: np.ndarray) -> tuple[np.ndarray, bool]:
        text = self.transcribe(audio)
        if not text:
            return np.zeros(self.dim, np.float32), False
        if self._encoder is None:
            self._encoder = load_minilm()
        return self._encoder([text])[0], True

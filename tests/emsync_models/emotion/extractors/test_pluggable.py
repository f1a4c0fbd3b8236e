"""Loading code of the optional extractors, exercised with tiny randomly initialised models of the
same classes written to disk the way real checkpoints are (no downloads, no real weights)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skimage.data
import torch

transformers = pytest.importorskip("transformers")

from emsync_models.emotion.api import build_extractors  # noqa: E402
from emsync_models.emotion.extractors.pluggable import (  # noqa: E402
    AudioTaggerExtractor,
    ClipExtractor,
    SpeechExtractor,
)
from emsync_models.video.media import AUDIO_RATE, AudioChunk, VideoFrame  # noqa: E402

TINY = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1, "num_attention_heads": 2}


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = transformers.CLIPConfig(
        text_config={**TINY, "vocab_size": 99, "max_position_embeddings": 16, "bos_token_id": 0,
                     "eos_token_id": 1, "pad_token_id": 1},
        vision_config={**TINY, "image_size": 32, "patch_size": 16}, projection_dim=16)
    folder = tmp_path_factory.mktemp("clip")
    transformers.CLIPModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tagger_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = transformers.ASTConfig(**TINY, num_mel_bins=16, max_length=64, num_labels=5)
    folder = tmp_path_factory.mktemp("ast")
    transformers.ASTForAudioClassification(config).save_pretrained(folder)
    transformers.ASTFeatureExtractor(num_mel_bins=16, max_length=64).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("whisper")
    # Byte-level BPE vocabulary of lower-case letters and the space marker, no merges.
    vocab = {"<|endoftext|>": 0, "<|startoftranscript|>": 1, "\u0120": 2}
    vocab.update({chr(c): 3 + i for i, c in enumerate(range(ord("a"), ord("z") + 1))})
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = transformers.WhisperTokenizer(vocab_file=str(folder / "vocab.json"),
                                              merges_file=str(folder / "merges.txt"))
    processor = transformers.WhisperProcessor(feature_extractor=transformers.WhisperFeatureExtractor(),
                                              tokenizer=tokenizer)
    config = transformers.WhisperConfig(
        vocab_size=len(vocab), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=37, decoder_ffn_dim=37, max_target_positions=128,
        decoder_start_token_id=1, eos_token_id=0, pad_token_id=0, bos_token_id=0)
    transformers.WhisperForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_clip_loads_local_weights_and_embeds_frames(clip_dir):
    extractor = ClipExtractor.from_weights(clip_dir)
    assert extractor.dim == 16 and extractor.version.startswith("clip/")
    extractor.begin()
    extractor.add(VideoFrame(0.0, skimage.data.astronaut()))
    extractor.add(VideoFrame(2.0, skimage.data.coffee()))
    track = extractor.finish(4.0)
    assert track.values.shape == (2, 16) and track.mask.all()
    np.testing.assert_allclose(np.linalg.norm(track.values, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(track.values[0], track.values[1])
    # Same weights -> same numbers as the reference CLIPModel forward.
    reference = transformers.CLIPModel.from_pretrained(clip_dir).eval()
    with torch.inference_mode():
        out = reference.get_image_features(pixel_values=extractor.preprocess(skimage.data.astronaut()))
    out = out if isinstance(out, torch.Tensor) else out.pooler_output
    np.testing.assert_allclose(track.values[0], torch.nn.functional.normalize(out, dim=-1)[0].numpy(), atol=1e-5)


def test_audio_tagger_reads_blocks(tagger_dir):
    extractor = AudioTaggerExtractor.from_weights(tagger_dir, block_s=1.0)
    extractor.begin()
    t = np.arange(int(2.6 * AUDIO_RATE)) / AUDIO_RATE
    extractor.add(AudioChunk(0.0, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)))
    track = extractor.finish(2.6)
    assert track.values.shape == (3, 5)
    assert np.all((track.values > 0) & (track.values < 1))
    np.testing.assert_allclose(track.times_s, [0.5, 1.5, 2.3], atol=1e-3)


def test_speech_transcribes_and_embeds(whisper_dir):
    seen = []

    def encoder(texts):
        seen.extend(texts)
        return np.ones((len(texts), 384), np.float32) / np.sqrt(384)

    extractor = SpeechExtractor.from_weights(whisper_dir, encoder=encoder)
    extractor.max_tokens = 8
    text = extractor.transcribe(np.zeros(AUDIO_RATE, np.float32))
    assert isinstance(text, str) and set(text) <= set("abcdefghijklmnopqrstuvwxyz ")
    extractor.begin()
    extractor.add(AudioChunk(0.0, np.zeros(2 * AUDIO_RATE, np.float32)))
    track = extractor.finish(2.0)
    assert track.values.shape == (1, 384)
    assert track.mask[0] == bool(text) and (seen == [text] if text else seen == [])


def test_build_extractors_adds_pluggables(clip_dir, tagger_dir):
    extractors = build_extractors(text=False, speech=False, clip_weights=clip_dir, audio_tagger_weights=tagger_dir)
    names = [e.name for e in extractors]
    assert names == ["face", "visual", "audio", "clip", "tagger"]


def test_missing_weights_fail_without_download(tmp_path):
    with pytest.raises((OSError, FileNotFoundError, ValueError)):
        ClipExtractor.from_weights(tmp_path / "absent")

"""On-disk cache of feature tracks, keyed by the video's content hash and the extractor's version.

A re-run over the same bytes with the same extractor reads the .npz instead of decoding again; a
new extractor version or edited video gets a new key, so stale features are never served.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from emsync_models.emotion.extractors.base import FeatureTrack


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of the file's bytes (streamed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class FeatureCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, video_hash: str, name: str, version: str) -> Path:
        safe_version = "".join(c if c.isalnum() or c in "._-" else "_" for c in version)
        return self.root / video_hash[:2] / video_hash / f"{name}-{safe_version}.npz"

    def get(self, video_hash: str, name: str, version: str) -> FeatureTrack | None:
        path = self.path(video_hash, name, version)
        if not path.is_file():
            return None
        try:
            with np.load(path) as data:
                spans = []
                if "span_times" in data:
                    spans = [(float(a), float(b), str(t)) for (a, b), t in
                             zip(data["span_times"], data["span_texts"], strict=True)]
                return FeatureTrack(data["times_s"], data["values"], data["mask"], spans)
        except (OSError, ValueError, KeyError):
            return None  # a torn or foreign file is recomputed, not trusted

    def put(self, video_hash: str, name: str, version: str, track: FeatureTrack) -> None:
        path = self.path(video_hash, name, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename so a concurrent reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                # Texts as a unicode array: loadable without pickle.
                np.savez(f, times_s=track.times_s, values=track.values, mask=track.mask,
                         span_times=np.asarray([(a, b) for a, b, _ in track.spans], np.float64).reshape(-1, 2),
                         span_texts=np.asarray([t for _, _, t in track.spans], dtype=str))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

"""Build (or reuse) the cached tokenised corpus that training reads."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from emsync_models.music.v1.corpus import DEFAULT_COMPOSERS, corpus_paths, load_corpus
from emsync_models.music.v1.dataset import TokenCorpus, build_corpus

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(".emsync/music_data")


def prepare_music21_corpus(
    out_path: Path,
    composers: Sequence[str] = DEFAULT_COMPOSERS,
    max_per_composer: int | None = 300,
    tempo_factors: Sequence[float] = (0.75, 1.0, 1.33),
    workers: int = 2,
    rebuild: bool = False,
) -> TokenCorpus:
    """Tokenise a music21 corpus subset into `out_path` (.npz); reuse the file when it exists."""
    if out_path.exists() and not rebuild:
        return TokenCorpus.load(out_path)
    t0 = time.time()
    paths = corpus_paths(composers, max_per_composer)
    log.info("parsing %d music21 corpus files with %d workers", len(paths), workers)
    corpus = build_corpus(load_corpus(paths, tempo_factors, workers))
    corpus.save(out_path)
    log.info("tokenised %d pieces, %d tokens in %.0f s", len(corpus.names), corpus.n_tokens, time.time() - t0)
    return corpus

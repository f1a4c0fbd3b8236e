"""Autoregressive sampling with a KV cache, emotion trajectory, boundary tracking and a duration stop.

The loop keeps one token per step in Python (the clock, the pending boundary and the emotion at the
current time all depend on the token just sampled). When the context is full, the oldest half is
dropped and the cache is rebuilt in one forward pass, so the cost per token stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from emsync_models.music.request import emotion_at
from emsync_models.music.v1.boundaries import BoundaryTracker, offset_feature
from emsync_models.music.v1.model import KVCache, MusicTransformer
from emsync_models.music.v1.transforms import transpose_folding
from emsync_models.music.v1.vocab import CHORD, PAD, QUANTUM_S, START, time_shift, token_seconds_table

_SECONDS = token_seconds_table()


@dataclass
class SamplingOptions:
    temperature: float = 1.0
    top_p: float = 0.95
    top_k: int | None = None
    # Shorten a sampled time shift that would jump over the pending boundary so the clock lands on
    # it: the model then sees "boundary now" and can place its CHORD there instead of 0.3 s late.
    snap_to_boundaries: bool = True
    # Classifier-free guidance on the V/A condition: logits = null + g * (cond - null), using the
    # "label unknown" null vectors the model learned through label dropout. 1.0 = plain sampling.
    guidance: float = 1.0


@dataclass
class GenerationTrace:
    tokens: list[int]
    chord_marker_times: list[float] = field(default_factory=list)
    boundary_hits: list[float] = field(default_factory=list)


def sample_next(logits: torch.Tensor, options: SamplingOptions, generator: torch.Generator) -> int:
    """Sample one token id from (vocab,) logits with temperature, top-k and nucleus filtering."""
    logits = logits.float().clone()
    logits[[PAD, START]] = -float("inf")  # never valid mid-sequence
    if options.temperature <= 0:
        return int(logits.argmax())
    logits = logits / options.temperature
    if options.top_k is not None and options.top_k > 0:
        kth = torch.topk(logits, min(options.top_k, logits.numel())).values[-1]
        logits[logits < kth] = -float("inf")
    probs = torch.softmax(logits, dim=-1)
    if options.top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        keep = sorted_p.cumsum(0) - sorted_p < options.top_p  # always keeps the most likely token
        sorted_p = sorted_p * keep
        return int(order[torch.multinomial(sorted_p / sorted_p.sum(), 1, generator=generator)])
    return int(torch.multinomial(probs, 1, generator=generator))


@torch.inference_mode()
def generate(
    model: MusicTransformer,
    duration_s: float,
    trajectory: Sequence[tuple[float, float, float]],
    boundaries_s: Sequence[float] = (),
    seed: int = 0,
    options: SamplingOptions | None = None,
    use_cache: bool = True,
    neutralise_boundaries: bool = False,
    max_tokens: int | None = None,
    transpose: int = 0,
) -> GenerationTrace:
    """Sample music tokens until the clock reaches `duration_s`.

    `boundaries_s` should already be merged (see boundaries.merge_boundaries). With
    `neutralise_boundaries` the model is told "no boundary near" at every step (the ablation); the
    decoding (and `options.snap_to_boundaries`) is unchanged, so only the model's input differs.
    `transpose` moves the finished stream's pitched notes by that many semitones (a model trained in C
    writes in C; see transforms).
    """
    options = options or SamplingOptions()
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    tracker = BoundaryTracker(boundaries_s)

    def feature(now: float) -> float:
        return 0.0 if neutralise_boundaries else float(offset_feature(tracker.seconds_to_next(now)))

    limit = max_tokens if max_tokens is not None else int(80 * duration_s) + 256
    block = model.config.block_size
    tokens: list[int] = [START]
    now = 0.0
    offsets: list[float] = [feature(now)]
    v0, a0 = emotion_at(trajectory, now)
    vals, aros = [v0], [a0]
    trace = GenerationTrace(tokens)
    cache: KVCache | None = None

    guided = options.guidance != 1.0
    rows = 2 if guided else 1  # row 1 is the unconditional (null-label) stream

    def run(lo: int, hi: int, with_cache: KVCache | None) -> torch.Tensor:
        x = torch.tensor([tokens[lo:hi]] * rows)
        off = torch.tensor([offsets[lo:hi]] * rows, dtype=torch.float32)
        # float32 whatever the caller passed (an int 0 would make an int tensor that cannot hold NaN)
        v = torch.tensor([vals[lo:hi]] * rows, dtype=torch.float32)
        a = torch.tensor([aros[lo:hi]] * rows, dtype=torch.float32)
        if guided:
            v[1], a[1] = float("nan"), float("nan")
        logits = model(x, off, v, a, with_cache)[:, -1]
        if guided:
            return logits[1] + options.guidance * (logits[0] - logits[1])
        return logits[0]

    window = 0  # first token the cache holds
    if use_cache:
        cache = model.new_cache(batch=rows)
        logits = run(0, 1, cache)
    else:
        logits = run(0, 1, None)
    while len(tokens) < limit:
        token = sample_next(logits, options, generator)
        if options.snap_to_boundaries and _SECONDS[token] > 0:
            token = _snap(token, tracker.seconds_to_next(now), tracker.index < len(tracker.boundaries))
        now += _SECONDS[token]
        tokens.append(token)
        tracker.update(token, now)
        if token == CHORD:
            trace.chord_marker_times.append(round(now, 6))
        if now >= duration_s:
            break
        offsets.append(feature(now))
        v, a = emotion_at(trajectory, now)
        vals.append(v)
        aros.append(a)
        n = len(tokens)
        if not use_cache:
            logits = run(max(0, n - block), n, None)
        elif n - window > block:  # context full: keep the newest half and rebuild the cache from it
            window = n - block // 2
            cache = model.new_cache(batch=rows)
            logits = run(window, n, cache)
        else:
            logits = run(n - 1, n, cache)
    trace.boundary_hits = tracker.hits
    if transpose:
        trace.tokens = transpose_folding(np.asarray(tokens), transpose).tolist()
    return trace


def _snap(token: int, to_boundary: float, pending: bool) -> int:
    steps = round(to_boundary / QUANTUM_S)
    if pending and 1 <= steps and _SECONDS[token] > to_boundary + QUANTUM_S / 2:
        return time_shift(steps)
    return token


def tokens_array(trace: GenerationTrace) -> np.ndarray:
    return np.asarray(trace.tokens, dtype=np.int64)

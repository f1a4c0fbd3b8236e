"""v2 generation speed at batch 1: the whole constrained, KV-cached, CFG sampling loop, tokens/s.

    python benchmarks/generate_v2.py [--checkpoint PATH] [--threads 1] [--seconds 30] [--json out.json]

With a checkpoint, the real generator writes a piece of `--seconds` with cuts; without one, a randomly
initialised model of the default shape runs the same loop for 800 tokens (weights do not change the
cost per token). Target (issue #12): >= 300 tokens/s on the project's 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--n-layer", type=int, default=3, help="shape of the random model (no --checkpoint)")
    parser.add_argument("--d-model", type=int, default=192)
    parser.add_argument("--context", type=int, default=256)
    args = parser.parse_args()

    import torch

    from emsync_models.music.request import GenerationRequest
    from emsync_models.music.v2.generator import MusicGeneratorV2, load_generator_v2
    from emsync_models.music.v2.model import MusicTransformerV2, MusicV2Config
    from emsync_models.music.v2.remi import BeatTokenizer

    torch.set_num_threads(args.threads)
    if args.checkpoint is not None:
        gen = load_generator_v2(args.checkpoint)
        max_tokens = None
    else:
        model = MusicTransformerV2(MusicV2Config(vocab_size=len(BeatTokenizer()), n_layer=args.n_layer,
                                                 d_model=args.d_model, d_ff=4 * args.d_model,
                                                 block_size=args.context))
        gen = MusicGeneratorV2(model)
        max_tokens = 800
    req = GenerationRequest(args.seconds, (6.3, 13.1, 19.7, 24.0), ((0.0, 0.3, 0.2),), seed=0)
    from emsync_models.music.v2 import generator as api_v2

    original = api_v2.generate_v2

    def bounded(*a, **k):  # noqa: ANN002, ANN003, ANN202
        return original(*a, **{**k, "max_tokens": max_tokens})

    api_v2.generate_v2 = bounded
    gen.trace(req)  # warm-up (tables, allocator)
    t0, c0 = time.perf_counter(), time.process_time()
    _, trace = gen.trace(req)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    # On a shared machine the wall rate measures the neighbours; the CPU-time rate is what one core gives.
    result = {"tokens": len(trace.tokens), "seconds": elapsed, "tokens_per_s": len(trace.tokens) / elapsed,
              "cpu_seconds": cpu, "tokens_per_cpu_s": len(trace.tokens) / max(cpu, 1e-9),
              "load_average": list(__import__("os").getloadavg()),
              "guidance": gen.guidance, "params_m": gen.model.num_params() / 1e6, "threads": args.threads,
              "checkpoint": str(args.checkpoint) if args.checkpoint else None}
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

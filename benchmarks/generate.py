"""Generation speed at batch 1: tokens/s with the KV cache and without (full re-run per token),
at 512 and 2048 tokens of context, plus peak memory. One run, one process per case (so each case's
peak RSS is its own).

    python benchmarks/generate.py [--checkpoint PATH] [--threads 2] [--json out.json]

The model is the checkpoint's architecture (layers/width/heads) with the position table widened to
2048 so both contexts fit; weights do not change speed, so the widened model is randomly initialised.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _case(config_dict: dict, context: int, use_cache: bool, new_tokens: int, threads: int, queue) -> None:
    import torch

    from emsync_models.music.v1.model import MusicTransformer, MusicTransformerConfig
    from emsync_models.music.v1.sample import SamplingOptions, sample_next

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = dataclasses.replace(MusicTransformerConfig(**config_dict), block_size=max(context, 2048), dropout=0.0)
    model = MusicTransformer(config).eval()
    gen = torch.Generator().manual_seed(0)
    opts = SamplingOptions(temperature=1.0, top_p=0.95)
    prompt_len = context - new_tokens
    tokens = torch.randint(4, config.vocab_size, (1, context))
    offsets = torch.rand(1, context)
    va = torch.zeros(1, context)
    with torch.inference_mode():
        if use_cache:
            cache = model.new_cache(max_len=context + config.n_prefix)
            p = prompt_len
            logits = model(tokens[:, :p], offsets[:, :p], va[:, :p], va[:, :p], cache)
            t0 = time.perf_counter()
            for i in range(prompt_len, context):
                sample_next(logits[0, -1], opts, gen)
                logits = model(tokens[:, i : i + 1], offsets[:, i : i + 1], va[:, i : i + 1], va[:, i : i + 1], cache)
            elapsed = time.perf_counter() - t0
        else:
            t0 = time.perf_counter()
            for i in range(prompt_len, context):
                logits = model(tokens[:, :i], offsets[:, :i], va[:, :i], va[:, :i])
                sample_next(logits[0, -1], opts, gen)
            elapsed = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"context": context, "kv_cache": use_cache, "new_tokens": new_tokens,
               "tokens_per_s": new_tokens / elapsed, "peak_rss_mb": peak_mb,
               "params_m": model.num_params() / 1e6})


def run_case(config_dict: dict, context: int, use_cache: bool, new_tokens: int, threads: int) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_case, args=(config_dict, context, use_cache, new_tokens, threads, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cached-tokens", type=int, default=256)
    parser.add_argument("--uncached-tokens", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3, help="runs per case; the median is reported")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from emsync_models.music.v1.generator import DEFAULT_CHECKPOINT
    from emsync_models.music.v1.model import SMALL

    path = args.checkpoint or DEFAULT_CHECKPOINT
    if path.is_file():
        config_dict = torch.load(path, map_location="cpu", weights_only=False)["model_config"]
    else:
        config_dict = SMALL.to_dict()
    rows = []
    for context in (512, 2048):
        for use_cache, n in ((True, args.cached_tokens), (False, args.uncached_tokens)):
            runs = [run_case(config_dict, context, use_cache, n, args.threads) for _ in range(args.repeats)]
            speeds = sorted(r["tokens_per_s"] for r in runs)
            row = {**runs[0], "tokens_per_s": speeds[len(speeds) // 2], "all_tokens_per_s": speeds,
                   "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}
            rows.append(row)
            print(f"context {context:5d}  kv_cache={use_cache!s:5}  {row['tokens_per_s']:8.1f} tok/s (median; runs "
                  f"{', '.join(f'{x:.0f}' for x in speeds)})  peak RSS {row['peak_rss_mb']:.0f} MB", flush=True)
    speedups = {}
    for context in (512, 2048):
        cached = next(r for r in rows if r["context"] == context and r["kv_cache"])
        plain = next(r for r in rows if r["context"] == context and not r["kv_cache"])
        speedups[str(context)] = cached["tokens_per_s"] / plain["tokens_per_s"]
        print(f"context {context}: KV-cache speed-up x{speedups[str(context)]:.1f}")
    import os

    result = {"model": {k: config_dict[k] for k in ("n_layer", "d_model", "n_head", "d_ff", "conditioning")},
              "threads": args.threads, "cases": rows, "speedup": speedups, "load_average": os.getloadavg()}
    print(f"machine load average (1/5/15 min): {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

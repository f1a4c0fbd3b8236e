"""Train the v2 music generator on a lent GPU machine from a tokenised corpus (no other install needed).

The GPU image has torch and numpy but none of EMSYNC's locked packages, so this runner takes the token
cache that `emsync train music-v2` writes (`tokens-<corpus>.npz`, made on the CPU machine where MidiTok is)
and drives the same `train_v2` loop with `device="cuda"`. Its outputs are the resumable state and the
bf16 inference checkpoint, exactly what the CLI writes; `emsync train music-v2 --state STATE` resumes it.

    python3 infra/gpu/train_music_v2.py --tokens T.npz --extra extra.json --state S.pt --out music-v2.pt \
        --n-layer 6 --d-model 320 --context 512 --batch-size 64 --steps 12000 --max-minutes 8
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from emsync_models.music.v2.data import TokenCorpusV2  # noqa: E402
from emsync_models.music.v2.model import MusicV2Config  # noqa: E402
from emsync_models.music.v2.train import TrainV2Config, batch_loss, export_checkpoint, train_v2  # noqa: E402


def calibrate_steps(data: TokenCorpusV2, config: MusicV2Config, args: argparse.Namespace) -> int:
    """Steps that fit --max-minutes, from timing a few real steps, so the cosine schedule ends in time."""
    import time

    import torch

    from emsync_models.music.v2.data import BatchSamplerV2
    from emsync_models.music.v2.model import MusicTransformerV2

    if args.max_minutes is None:
        raise SystemExit("--steps 0 needs --max-minutes")
    device = torch.device(args.device)
    model = MusicTransformerV2(config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    sampler = BatchSamplerV2(data, "train", config.block_size, 0.1, seed=123)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        loss = batch_loss(model, sampler.sample(args.batch_size), device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        float(loss.detach())  # the training loop syncs here too (its running mean)
        times.append(time.perf_counter() - t0)
    per_step = sorted(times[10:])[len(times[10:]) // 2]
    steps = int(args.max_minutes * 60 * 0.9 / per_step)
    print(f"calibration: {per_step * 1e3:.1f} ms/step -> {steps} steps in {args.max_minutes} min", flush=True)
    del model, opt
    return max(steps, args.warmup + 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=Path, required=True, help="token cache (.npz) from emsync train music-v2")
    p.add_argument("--extra", type=Path, required=True, help="JSON of the checkpoint's extra fields")
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--vocab-size", type=int, required=True)
    p.add_argument("--n-layer", type=int, default=6)
    p.add_argument("--d-model", type=int, default=320)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--context", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=0, help="0: as many as --max-minutes allows (timed first)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument("--device", default="cuda")
    args = p.parse_args()
    data = TokenCorpusV2.load(args.tokens)
    extra = json.loads(args.extra.read_text())
    extra["style_means"] = {int(k): tuple(v) for k, v in extra["style_means"].items()}
    extra.setdefault("label_p05_p95", data.label_range())
    config = MusicV2Config(vocab_size=args.vocab_size, block_size=args.context, n_layer=args.n_layer,
                           n_head=args.n_head, d_model=args.d_model, d_ff=4 * args.d_model)
    steps = args.steps or calibrate_steps(data, config, args)
    cfg = TrainV2Config(steps=steps, batch_size=args.batch_size, lr=args.lr, warmup=args.warmup,
                        eval_every=args.eval_every, checkpoint_every=args.eval_every, eval_batches=8,
                        max_minutes=args.max_minutes, device=args.device)
    print(f"corpus: {len(data.ids)} pieces, {len(data.tokens)} tokens", flush=True)
    history = train_v2(data, config, cfg, args.state, resume=True, log=lambda m: print(m, flush=True), extra=extra)
    export_checkpoint(args.state, args.out, extra)
    print(json.dumps({"step": history["step"][-1] if history["step"] else 0,
                      "val_loss": history["val_loss"][-1] if history["val_loss"] else None}), flush=True)


if __name__ == "__main__":
    main()

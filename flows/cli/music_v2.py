"""`emsync train music-v2`: tokenise a music corpus v2 folder and train (or resume) the v2 generator."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer
from rich.console import Console

console = Console()

DEFAULT_V2_CHECKPOINT = Path("emsync_models/checkpoints/music-v2.pt")


def train_music_v2(
    corpus: Path = typer.Option(..., help="music corpus v2 folder (manifest.jsonl, midi/, labels/)"),
    out: Path = typer.Option(DEFAULT_V2_CHECKPOINT, help="inference checkpoint to write (.pt, bf16)"),
    state: Path = typer.Option(Path(".emsync/music_v2/train_state.pt"), help="resumable training state"),
    steps: int = typer.Option(20000, help="total optimizer steps (a resumed run continues towards it)"),
    batch_size: int = typer.Option(8, help="sequences per step"),
    context: int = typer.Option(512, help="tokens of context"),
    n_layer: int = typer.Option(4, help="transformer layers"),
    d_model: int = typer.Option(256, help="width (ff 4x, 4 heads)"),
    lr: float = typer.Option(1e-3, help="peak learning rate"),
    threads: int = typer.Option(1, help="torch CPU threads"),
    max_minutes: float | None = typer.Option(None, help="stop (and checkpoint) after this many minutes"),
    fresh: bool = typer.Option(False, help="ignore an existing training state"),
) -> None:
    """Train the beat-grid generator on corpus v2 (resumes from --state unless --fresh)."""
    from emsync_models.music.data_v2 import TokenCorpusV2, build_token_corpus
    from emsync_models.music.model_v2 import MusicV2Config
    from emsync_models.music.remi import BeatTokenizer
    from emsync_models.music.train_v2 import TrainV2Config, export_checkpoint, train_v2

    for name, value in (("steps", steps), ("batch_size", batch_size), ("context", context), ("lr", lr)):
        if value <= 0:
            raise typer.BadParameter(f"must be > 0, got {value}", param_hint=f"--{name.replace('_', '-')}")
    if not (corpus / "manifest.jsonl").is_file():
        raise typer.BadParameter(f"{corpus}: no manifest.jsonl (not a music corpus v2 folder)", param_hint="--corpus")
    if out.suffix != ".pt":
        raise typer.BadParameter(f"{out}: the checkpoint must be a .pt file", param_hint="--out")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    tok = BeatTokenizer()
    cache = state.parent / f"tokens-{corpus.resolve().name}.npz"
    if cache.is_file():
        data = TokenCorpusV2.load(cache)
    else:
        data = build_token_corpus(corpus, tok, progress=console.print)
        data.save(cache)
    console.print(f"corpus: {len(data.ids)} pieces ({len(data.piece_ids('val'))} val), {len(data.tokens)} tokens")
    model_config = MusicV2Config(vocab_size=len(tok), block_size=context, n_layer=n_layer, n_head=4,
                                 d_model=d_model, d_ff=4 * d_model)
    cfg = TrainV2Config(steps=steps, batch_size=batch_size, lr=lr, threads=threads, max_minutes=max_minutes)
    extra = {"style_means": data.style_means(), "corpus": str(corpus), "tokenizer": repr(tok), "guidance": 1.5}
    history = train_v2(data, model_config, cfg, state, resume=not fresh, log=console.print, extra=extra)
    export_checkpoint(state, out, extra)
    console.print(json.dumps({"steps": history["step"][-1] if history["step"] else 0,
                              "val_loss": history["val_loss"][-1] if history["val_loss"] else None, "out": str(out)}))

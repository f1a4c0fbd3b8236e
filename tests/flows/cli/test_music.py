"""CLI argument handling: bad input is one clear error naming the input, never a traceback."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from flows.cli.music import eval_music, train_music

runner = CliRunner(env={"COLUMNS": "400", "NO_COLOR": "1"})


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("train")(train_music)
    app.command("eval")(eval_music)
    return app


def test_train_rejects_bad_numbers_and_lonely_lpd5(tmp_path: Path):
    for args, needle in (
        (["train", "--steps", "0"], "steps"),
        (["train", "--conditioning", "film"], "conditioning"),
        (["train", "--config", "huge"], "config"),
        (["train", "--lpd5", str(tmp_path)], "--lpd5"),
        (["train", "--out", str(tmp_path / "x.bin")], "--out"),
        (["train", "--lpd5", str(tmp_path / "nope"), "--labels", str(tmp_path / "l.csv")], "does not exist"),
    ):
        result = runner.invoke(_app(), args)
        assert result.exit_code == 2, args
        assert needle in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_eval_rejects_missing_checkpoint_and_small_grid(tmp_path: Path):
    result = runner.invoke(_app(), ["eval", "--checkpoint", str(tmp_path / "missing.pt")])
    assert result.exit_code == 2 and "checkpoint" in result.output and "Traceback" not in result.output
    result = runner.invoke(_app(), ["eval", "--grid", "2"])
    assert result.exit_code == 2 and "--grid" in result.output

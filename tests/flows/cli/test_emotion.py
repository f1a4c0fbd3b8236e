from __future__ import annotations

import typer
from typer.testing import CliRunner

from flows.cli.emotion import train_emotion

app = typer.Typer()
app.command()(train_emotion)


def test_bad_dataset_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(app, [str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    text = result.output.strip()
    assert "nowhere" in text and "Traceback" not in text and len(text.splitlines()) == 1

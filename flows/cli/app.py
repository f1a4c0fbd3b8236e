"""`emsync`: the command line. Argument handling and progress only; the work lives in the stages."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows.cli.common import err, fail, out, user_errors
from flows.settings import get_settings

app = typer.Typer(help="EMSYNC: free, automatic soundtracks for video.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
train_app = typer.Typer(help="Train a model (never run by CI).", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate a model and print its metrics.", no_args_is_help=True)
db_app = typer.Typer(help="The metadata database.", no_args_is_help=True)
catalog_app = typer.Typer(help="Catalog-scale batch work.", no_args_is_help=True)
metrics_app = typer.Typer(help="Prometheus metrics.", no_args_is_help=True)
data_app = typer.Typer(help="Training data (built, never committed).", no_args_is_help=True)
data_music_app = typer.Typer(help="Music training data.", no_args_is_help=True)
data_app.add_typer(data_music_app, name="music")
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")
app.add_typer(metrics_app, name="metrics")
app.add_typer(data_app, name="data")




LOG_LEVELS = ("debug", "info", "warning", "error")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"emsync {version('emsync')}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    log_level: Annotated[str, typer.Option(
        "--log-level", help=f"log detail: {', '.join(LOG_LEVELS)}", envvar="EMSYNC_LOG_LEVEL")] = "info",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only warnings and errors (same as --log-level warning)")
                     ] = False,
    log_format: Annotated[str, typer.Option(
        "--log-format", help="log lines as text, or json (one object per line, for Loki/ELK)",
        envvar="EMSYNC_LOG_FORMAT")] = "text",
    _show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="print the version and exit")] = False,
) -> None:
    """EMSYNC: free, automatic soundtracks for video."""
    _stop_children_on_sigterm()
    level = "warning" if quiet else log_level.lower()
    if level not in LOG_LEVELS:
        raise fail(f"--log-level {log_level!r}: use one of {', '.join(LOG_LEVELS)}")
    from flows.ops.logs import FORMATS

    if log_format.lower() not in FORMATS:
        raise fail(f"--log-format {log_format!r}: use one of {', '.join(FORMATS)}")
    configure_logging(level, log_format.lower())
    with user_errors():  # the one check of EMSYNC_* values: a bad one is one line and exit 2, for any command
        get_settings()
    _warn_unknown_variables()
    del ctx  # job commands size their thread pools themselves, once their arguments are checked


def _warn_unknown_variables() -> None:
    """One warning per `EMSYNC_*` variable no setting reads, naming the setting it looks like."""
    import logging

    from flows.settings import unknown_variables

    for name, close in unknown_variables():
        hint = f"; did you mean {close}?" if close else ""
        logging.getLogger("emsync").warning("%s is not an EMSYNC setting and is ignored%s", name, hint)


def start_job() -> None:
    """Size every thread pool of this process (before the libraries that read it are imported). Job
    commands call it after checking their arguments, so a bad one is answered before torch loads."""
    from flows.runtime import apply_thread_budget

    with user_errors():
        apply_thread_budget(get_settings())


def _stop_children_on_sigterm() -> None:
    """SIGTERM (a service manager, `kill`) ends the command as Ctrl-C does: the children it started
    (FluidSynth) are killed and the `finally`/`with` blocks remove its temp files. Python's default
    would exit at once and leave both behind."""
    import signal

    def on_term(signum: int, _frame: object) -> None:
        from emsync_models.render.children import stop_children

        signal.signal(signum, signal.SIG_IGN)  # one clean-up, however many times it is sent
        stop_children()
        raise SystemExit(128 + signum)

    if threading_main():
        signal.signal(signal.SIGTERM, on_term)


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def configure_logging(level: str, fmt: str = "text") -> None:
    """One level and format for EMSYNC's loggers and Prefect's (set before Prefect is imported, which reads
    them then); third-party Python warnings only at debug."""
    from flows.ops.logs import configure

    configure(level, fmt)


def _install_outcome_filter() -> None:
    from flows.ops.logs import install_expected_outcome_filter

    install_expected_outcome_filter()


_install_outcome_filter()


@contextmanager
def stage_progress(enabled: bool) -> Iterator[Callable[[str, float], None] | None]:
    """A rich bar per stage on a terminal; off one (logs, cron), one plain line as each stage ends."""
    if not enabled:
        yield None
        return
    from flows.soundtrack import STAGES

    if not err.is_terminal:
        started = time.monotonic()

        def plain(stage: str, done: float) -> None:
            # Only finished stages: a run that fails on bad input stays the promised single error line.
            if done >= 1.0:
                print(f"stage {stage} done, elapsed {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)

        yield plain
        return

    # the percentage moves inside the music stage too (bars written of all, as the generator reports them)
    columns = (TextColumn("[bold]{task.description:<8}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        tasks = {stage: bar.add_task(stage, total=1.0, start=False) for stage in STAGES}

        def update(stage: str, done: float) -> None:
            if stage in tasks:
                bar.start_task(tasks[stage])
                bar.update(tasks[stage], completed=done)

        yield update


def print_summary(report: dict[str, Any], out_path: Path) -> None:
    table = Table(title=f"soundtrack → {out_path}", show_header=False)
    emotion = report["emotion"]["overall"]
    probs = emotion.get("probs") or {}
    top = max(probs, key=probs.get) if probs else "(set by user)"
    table.add_row("duration", f"{report['input']['duration_s']:.2f} s")
    music = report["music"]
    table.add_row("cuts", "\n".join(_cut_line(c) for c in music.get("cuts", [])) or "none found")
    table.add_row("emotion", f"{top}  valence {emotion['valence']:+.2f}  arousal {emotion['arousal']:+.2f}")
    table.add_row("chord changes", ", ".join(f"{c:.2f}" for c in report["music"]["chord_markers_s"][:12]))
    if music.get("style"):
        source = "asked" if music.get("style_from") == "asked" else "from the video"
        table.add_row("style", f"{music['style']} ({source})")
    if music.get("ensemble"):
        table.add_row("ensemble", ", ".join(music["ensemble"]))
    table.add_row("music model", f"{music.get('model') or '?'} ({music['model_name']} {music['model_version']})")
    table.add_row("models", ", ".join(f"{k}={v}" for k, v in report["models"].items()))
    table.add_row("timings", ", ".join(f"{k} {v:.1f}s" for k, v in report["timings_s"].items()))
    reused = report.get("reused") or {}
    if reused.get("result_from_run"):
        table.add_row("reused", "the stored result of this identical request (--recompute computes again)")
    elif reused.get("analysis_from_run"):
        table.add_row("reused", "the stored cuts and emotion of this video (only the music was made again)")
    out.print(table)


def _cut_line(cut: dict[str, Any]) -> str:
    """One cut as the music treated it: kept with its chord and residual, or merged (EMSYNC_MIN_BOUNDARY_GAP_S)."""
    if not cut["kept"]:
        return f"{cut['cut_s']:.2f} merged: {cut['why']}"
    if cut.get("chord_sounds_s") is None:
        return f"{cut['cut_s']:.2f} kept" + (": no chord placed on it" if "residual_s" in cut else "")
    return f"{cut['cut_s']:.2f} kept: chord at {cut['chord_sounds_s']:.2f} s (residual {cut['residual_s']:.3f} s)"


@app.command()
def soundtrack(
    input: Annotated[Path, typer.Argument(help="the video to score")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="where to write the video with its soundtrack")],
    seed: Annotated[int | None, typer.Option(help="random seed (default: settings)")] = None,
    valence: Annotated[float | None, typer.Option(help="fix valence in [-1, 1] instead of detecting it")] = None,
    arousal: Annotated[float | None, typer.Option(help="fix arousal in [-1, 1] instead of detecting it")] = None,
    mix_original: Annotated[float | None, typer.Option(
        help="keep the original audio under the music at this gain (0-4); default: replace it. The music "
             "ducks under speech (--duck-db)")] = None,
    duck_db: Annotated[float | None, typer.Option(
        "--duck-db", help="with --mix-original: the music's gain while someone speaks, -40 to 0 dB (default "
                          "-15, EMSYNC_DUCK_DB; 0: no ducking), its speech band 12 dB further (EMSYNC_DUCK_CARVE_DB);"
                          " it ramps down over 30 ms before each phrase and back over 80 ms after it")] = None,
    plot: Annotated[Path | None, typer.Option(
        help="also write the picture (emotion timeline, piano roll, cuts) to this .png; nothing else is "
             "written beside --out")] = None,
    export: Annotated[Path | None, typer.Option(
        help="also write the deliverables to this folder under plain names: music.mid, music.wav, "
             "stems/NN-instrument.wav (one per instrument; they sum to music.wav), soundtrack.png, "
             "report.json")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="replace files that already exist at --out or --plot, or in a non-empty --export "
                        "folder (refused otherwise)")] = False,
    recompute: Annotated[bool, typer.Option(
        "--recompute", help="compute everything again even when this exact request (same video, models and "
                            "parameters) is stored already; by default its stored result is reused")] = False,
    style: Annotated[str | None, typer.Option(
        help="the music's style family (list: `emsync styles`); default: EMSYNC_STYLE, else chosen per "
             "section from valence/arousal")] = None,
    instruments: Annotated[str | None, typer.Option(
        help="the instrument palette: General MIDI families or program names, comma-separated, e.g. "
             "'piano,strings' or 'cello,flute,drums' (drums only when named); default: EMSYNC_INSTRUMENTS, "
             "else the model's choice from valence/arousal")] = None,
    no_drums: Annotated[bool, typer.Option("--no-drums", help="no drum kit (with or without --instruments)")
                        ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON report on stdout")] = False,
) -> None:
    """Turn a video into the same video with a new soundtrack that follows its emotion and cuts.

    Files written: the video at --out and, only when asked, the picture at --plot and the deliverables
    in the --export folder. Every result is also stored under $EMSYNC_DATA_DIR (the report's artifacts
    are those object keys; its files are the paths written). An existing file is never replaced without
    --force.

    An identical request (same video bytes, models and parameters) answers from the stored result in
    seconds, writing the files asked for from it (--recompute computes again); a request that changes
    only the music (--seed, --mix-original, EMSYNC_TOP_P ...) reuses the stored cuts and emotion.
    With --mix-original, the music ducks under the speech the speech detector finds (--duck-db); the
    export then also holds music-ducked.wav, while music.wav and the stems stay the music alone.

    Every cut gets a new chord on a downbeat (a hit point) except cuts closer than
    EMSYNC_MIN_BOUNDARY_GAP_S (default 4 s) to the previous kept cut: those are merged, and the table,
    the JSON report (music.cuts) and the picture mark each cut kept or merged. EMSYNC_MUSIC_MODEL=v1
    selects the older generator (v2 is the default)."""
    from flows.job_args import SoundtrackOptions, check_input, check_options, check_output

    options = SoundtrackOptions(seed=seed, valence=valence, arousal=arousal, original_audio_gain=mix_original,
                                plot=plot, export=export, force=force, duck_db=duck_db, recompute=recompute,
                                style=style, instruments=instruments, no_drums=no_drums)
    with user_errors():  # the cheap checks first: a bad argument is answered before the models load
        check_options(options)
        check_input(input)
        check_output(out_path, input, options.plot, options.export, options.force)
        get_settings()
    from flows.delivery import answer_from_store

    with user_errors():  # an identical request: answered from the store before torch and the models load
        stored, job = answer_from_store(input, out_path, get_settings(), options)
    if stored is None:
        start_job()
        from flows.soundtrack import run_soundtrack

        with user_errors(), stage_progress(not as_json) as progress:
            stored = run_soundtrack(job, out_path, get_settings(), options, progress=progress).report
    if as_json:
        print(json.dumps(stored, indent=2))
    else:
        print_summary(stored, out_path)


@app.command()
def styles(as_json: Annotated[bool, typer.Option("--json", help="print the styles as JSON")] = False) -> None:
    """List the style families `--style` accepts (music v2's groove families), with what each sounds like."""
    from emsync_models.music.controls import STYLE_DESCRIPTIONS, STYLE_FAMILIES

    if as_json:
        print(json.dumps({name: STYLE_DESCRIPTIONS[name] for name in STYLE_FAMILIES}, indent=2))
        return
    table = Table(title="styles (--style NAME; default: chosen from the video's valence/arousal)")
    table.add_column("style")
    table.add_column("what it sounds like")
    for name in STYLE_FAMILIES:
        table.add_row(name, STYLE_DESCRIPTIONS[name])
    out.print(table)


@app.command()
def demo(
    out_path: Annotated[Path, typer.Option("--out", "-o", help="where to write the result")] = Path("emsync-demo.mp4"),
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    plot: Annotated[Path | None, typer.Option(help="also write the picture to this .png")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace files that already exist at --out or --plot")
                     ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON report on stdout")] = False,
) -> None:
    """Build a 22 s sample from public-domain photos (4 scenes, 3 cuts) and score it.

    The table lists each cut as kept (with the time its new chord sounds) or merged (closer than
    EMSYNC_MIN_BOUNDARY_GAP_S, default 4 s, to the previous kept cut)."""
    from flows.job_args import SoundtrackOptions, check_options, check_output

    options = SoundtrackOptions(seed=seed, plot=plot, force=force)
    with user_errors():
        check_options(options)
        check_output(out_path, None, options.plot, None, options.force)
        settings = get_settings()
    start_job()
    from emsync_models.video.sample import build_sample_video
    from flows.soundtrack import SoundtrackOptions, run_soundtrack

    sample_path = settings.store.data_dir / "sample" / "emsync-sample.mp4"
    with user_errors():
        sample_path.parent.mkdir(parents=True, exist_ok=True)
        if not sample_path.is_file():
            err.print("building the sample video from scikit-image's photographs …")
            build_sample_video(sample_path)
        err.print(f"sample: {sample_path}")
        with stage_progress(not as_json) as progress:
            result = run_soundtrack(sample_path, out_path, settings, options,
                                    progress=progress)
    if as_json:
        print(json.dumps(result.report, indent=2))
    else:
        print_summary(result.report, out_path)


def _register() -> None:
    """Commands whose code lives with the layer it drives; imported here so `--help` lists them all."""
    from flows.cli import catalog as cli_catalog
    from flows.cli import data as cli_data
    from flows.cli import emotion as cli_emotion
    from flows.cli import longform as cli_longform
    from flows.cli import music as cli_music
    from flows.cli import music_v2 as cli_music_v2
    from flows.cli import ops as cli_ops

    train_app.command("music")(cli_music.train_music)
    train_app.command("music-v2")(cli_music_v2.train_music_v2)
    train_app.command("emotion")(cli_emotion.train_emotion)
    eval_app.command("music")(cli_music.eval_music)
    eval_app.command("music-v2")(cli_music_v2.eval_music_v2)
    eval_app.command("long-form")(cli_longform.eval_long_form)
    db_app.command("upgrade")(cli_catalog.db_upgrade)
    catalog_app.command("ingest")(cli_catalog.catalog_ingest)
    catalog_app.command("score")(cli_catalog.catalog_score)
    catalog_app.command("backfill")(cli_catalog.catalog_backfill)
    catalog_app.command("verify")(cli_catalog.catalog_verify)
    catalog_app.command("retry")(cli_catalog.catalog_retry)
    catalog_app.command("quarantine")(cli_catalog.catalog_quarantine)
    catalog_app.command("replace")(cli_catalog.catalog_replace)
    app.command("status")(cli_catalog.status)
    metrics_app.command("serve")(cli_ops.metrics_serve)
    app.command("dashboard")(cli_ops.dashboard)
    data_music_app.command("build")(cli_data.build_music)


_register()

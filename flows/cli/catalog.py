"""`emsync db upgrade`, `emsync catalog ingest|score|backfill`, `emsync status` (registered in flows.cli.app).

Argument handling and printing only; the work is in the flows (flows.catalog.flows) and the database layer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from emsync_models.errors import InputError
from flows.catalog.manifest import MANIFEST_SUFFIXES
from flows.cli.common import user_errors
from flows.settings import get_settings

# Manifest text (subjects, reasons, catalog names, object keys) is printed as written: never as markup.
out = Console(markup=False)
err = Console(stderr=True, markup=False)


def _manifest_or_name(value: str) -> tuple[str | None, str | None]:
    """(manifest path, None) for an existing manifest file, else (None, name of an existing catalog).

    Checked here, before any flow starts, so bad input is one line and not a flow-run traceback.
    """
    if value.lower().startswith("s3://"):
        # A manifest kept in a bucket (the nightly deployment's form): checked for shape here, read by the flow.
        # Path() would fold the '//' and turn it into a local path that does not exist.
        from flows.catalog.manifest import resolve_source

        # The same fence as a row naming that object: a manifest outside it is never read (nor echoed).
        source = resolve_source(value, Path("."), [], get_settings().store.resolved_allowed_s3_sources)
        if Path(source.key or "").suffix.lower() not in MANIFEST_SUFFIXES:
            raise InputError(value, f"not a manifest (use {', '.join(sorted(MANIFEST_SUFFIXES))})")
        _check_manifest_object(source.uri, source.bucket or "", source.key or "")
        return source.uri, None
    path = Path(value).expanduser()
    if path.is_file():
        if path.suffix.lower() not in MANIFEST_SUFFIXES:
            raise InputError(path, f"not a manifest (use {', '.join(sorted(MANIFEST_SUFFIXES))})")
        from flows.catalog.manifest import read_manifest

        read_manifest(path)  # a manifest that cannot be read at all is one line here, not a failed flow
        return str(path.resolve()), None
    if path.suffix.lower() in MANIFEST_SUFFIXES or "/" in value:
        raise InputError(value, "no such manifest file")
    from flows.catalog.queries import check_catalog_name, find_catalog

    name = check_catalog_name(value)
    if find_catalog(get_settings().store.resolved_database_url, name) is None:
        raise InputError(value, "neither a manifest file nor a known catalog (see `emsync status`)")
    return None, name


def _check_target(manifest: str | None, catalog: str | None) -> None:
    """The catalog name a flow would create (given, or the manifest's file stem) is checked here, so a bad
    one is one line before any flow starts, not flow-run errors and a failed flow row."""
    from flows.catalog.queries import check_catalog_name

    if catalog is not None:
        check_catalog_name(catalog)
    elif manifest is not None:
        stem = Path(manifest.rpartition("/")[2]).stem
        try:
            check_catalog_name(stem)
        except InputError as exc:
            raise InputError(manifest, f"the manifest's name makes a bad catalog name; give --catalog ({exc.problem})"
                             ) from None


JSON_OPTION = typer.Option("--json", help="print the result as JSON on stdout (progress stays on stderr)")


def _run_flow(flow_fn: Callable[..., Any], *args: Any) -> dict[str, Any]:  # noqa: ANN401
    """Run a catalog flow in this process and return its summary, Failed or not.

    A Failed state that carries a summary means "finished, but videos or rows failed" (exit 3); one
    that carries an exception is re-raised for `user_errors` (bad input 2, anything else 1).
    """
    from flows.cli.ops import print_progress
    from flows.ops.logs import console_tracebacks_at_debug_only

    console_tracebacks_at_debug_only()  # Prefect's console handlers exist now (the flow imported Prefect)
    with print_progress():
        state = flow_fn(*args, return_state=True)
    from flows.ops.outcome import CatalogRunFailed

    result = state.result(raise_on_failure=False)
    if isinstance(result, CatalogRunFailed):
        return result.summary
    if isinstance(result, BaseException):
        raise result
    if not isinstance(result, dict):
        raise RuntimeError(f"flow ended {state.type.value}: {state.message}")
    return result


def _emit(title: str, result: dict[str, Any], as_json: bool) -> None:
    """Print the summary (table or JSON) and exit 3 when it names failures."""
    from flows.ops.outcome import exit_code_for

    if as_json:
        print(json.dumps(result, indent=2, default=str))
    else:
        _print_summary(title, result)
    code = exit_code_for(result)
    if code:
        if not as_json:
            err.print(f"{len(result['failures'])} failed (listed above); exit code {code}", highlight=False)
        raise typer.Exit(code)
def _check_manifest_object(uri: str, bucket: str, key: str) -> None:
    """A missing object is bad input, said in one line before any flow starts (like a missing local file)."""
    from minio.error import S3Error

    from flows.storage.store import s3_store_from_settings

    try:
        s3_store_from_settings(get_settings(), bucket=bucket).client.stat_object(bucket_name=bucket, object_name=key)
    except S3Error as exc:
        if exc.code in ("NoSuchKey", "NoSuchBucket", "NoSuchObject", "AccessDenied"):
            raise InputError(uri, f"cannot read the manifest object ({exc.code})") from None
        raise


# Summary keys for programs (--json), not for the table: the failures get a table of their own.
INTERNAL_KEYS = frozenset({"failures", "flow_link"})


def human(value: Any) -> str:  # noqa: ANN401 - any summary value
    """A summary value as a person reads it: 0.242 (not 0.24175240000000003), 12,345, "v1=a, v2=b"."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={human(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple):
        return ", ".join(human(v) for v in value) or "-"
    return str(value)


def _print_summary(title: str, result: dict[str, Any]) -> None:
    # Table cells and titles given as `str` are parsed as markup even on a markup=False console: Text.
    table = Table(title=Text(title), show_header=False)
    for key, value in result.items():
        if key in INTERNAL_KEYS:
            continue
        table.add_row(Text(key), Text(human(value)))
    out.print(table)
    failures = result.get("failures") or []
    if failures:
        bad = Table(title=f"{len(failures)} problems (recorded in the database)")
        bad.add_column("where")
        bad.add_column("subject", overflow="fold")
        bad.add_column("reason", overflow="fold")
        for f in failures:
            bad.add_row(*(Text(str(f.get(k, ""))) for k in ("where", "subject", "reason")))
        out.print(bad)


def db_upgrade(
    revision: Annotated[str, typer.Option(help="target revision")] = "head",
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Create or migrate the metadata database (SQLite by default, PostgreSQL via EMSYNC_DATABASE_URL)."""
    from db.session import safe_url, upgrade

    url = get_settings().store.resolved_database_url
    with user_errors():
        at = upgrade(url, revision)
    if as_json:
        print(json.dumps({"database": safe_url(url), "revision": at}))
        return
    out.print(f"database {safe_url(url)} is at revision {at}", soft_wrap=True, highlight=False)


def catalog_ingest(
    manifest: Annotated[str, typer.Argument(
        help="CSV or JSONL manifest (a local file or s3://bucket/key) of local paths or s3:// URIs")],
    catalog: Annotated[str | None, typer.Option("--catalog", "-c", help="catalog name (default: file name)")] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Register a manifest's videos in a catalog; bad rows are reported one by one, the rest proceeds.

    Exit codes: 0 all rows registered, 3 some rows rejected, 1 infrastructure failure, 2 bad input."""
    with user_errors():
        path, _ = _manifest_or_name(manifest)
        if path is None:
            raise InputError(manifest, "no such manifest file")
        _check_target(path, catalog)
        from flows.catalog.flows import ingest_catalog  # Prefect and the models: after the cheap checks

        result = _run_flow(ingest_catalog, path, catalog)
    _emit(f"ingested {result['catalog']}", result, as_json)


def catalog_score(
    manifest_or_name: Annotated[str, typer.Argument(help="a manifest to ingest and score, or a catalog name")],
    catalog: Annotated[str | None, typer.Option("--catalog", "-c", help="catalog name for a manifest")] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Detect cuts and score emotions for every video not yet scored by the current models.

    Exit codes: 0 all done, 3 some videos or rows failed, 1 infrastructure failure, 2 bad input."""
    with user_errors():
        manifest, name = _manifest_or_name(manifest_or_name)
        _check_target(manifest, catalog or name)
        from flows.catalog.flows import score_catalog  # Prefect and the models: after the cheap checks

        result = _run_flow(score_catalog, manifest, catalog or name)
    _emit(f"scored {result['catalog']}", result, as_json)


def catalog_backfill(
    manifest_or_name: Annotated[str, typer.Argument(help="a catalog name, or a manifest to ingest first")],
    limit: Annotated[int | None, typer.Option(min=0, help="soundtrack at most this many videos")] = None,
    catalog: Annotated[str | None, typer.Option("--catalog", "-c", help="catalog name for a manifest")] = None,
    music_model: Annotated[str | None, typer.Option(
        "--music-model", help="move the catalog to this music model (v1, v2) and soundtrack each video once "
        "more with it; without it a catalog keeps the model it was first backfilled with")] = None,
    style: Annotated[str | None, typer.Option(
        help="fix the catalog's style family (`emsync styles`) for this and later backfills; 'auto' clears "
             "it (each video's own choice)")] = None,
    instruments: Annotated[str | None, typer.Option(
        help="fix the catalog's instrument palette, e.g. 'piano,strings' or 'no drums', for this and later "
             "backfills; 'auto' clears it")] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Soundtrack every video of a catalog that lacks one for the current model versions (resumable).

    A catalog keeps the music model of its first backfill (see `emsync status`), whatever the default
    or EMSYNC_MUSIC_MODEL says now; --music-model is the one way to move it.

    Exit codes: 0 all done, 3 some videos (or manifest rows) failed, 1 infrastructure failure, 2 bad input."""
    from flows.catalog.pinning import check_music_model
    from flows.catalog.sound import check_sound

    ingested: dict[str, Any] = {"failures": []}
    with user_errors():
        if music_model is not None:
            check_music_model(music_model)
        check_sound(style, instruments)
        manifest, name = _manifest_or_name(manifest_or_name)
        _check_target(manifest, catalog or name)
        from flows.catalog.flows import backfill, ingest_catalog  # Prefect and the models: after the checks

        if manifest is not None:
            ingested = _run_flow(ingest_catalog, manifest, catalog)
            name = ingested["catalog"]
            if ingested["failures"] and not as_json:
                _print_summary(f"ingested {name}", ingested)
        assert name is not None
        result = _run_flow(backfill, catalog or name, limit, music_model, style, instruments)
    if ingested["failures"]:
        result = {**result, "ingest": ingested, "failures": [*ingested["failures"], *result["failures"]]}
    _emit(f"backfill {result['catalog']}", result, as_json)


def status(as_json: Annotated[bool, typer.Option("--json", help="print the status as JSON")] = False) -> None:
    """Catalogs (videos, scored, soundtracked, failed, quarantined, last run), the work queue, the model
    versions, quarantined videos and the latest failures."""
    from dataclasses import asdict

    from db.session import safe_url
    from flows.catalog.pinning import labeled
    from flows.catalog.recovery import quarantined
    from flows.ops.queries import catalog_status, emotion_models, queue_depth, recent_failures

    url = get_settings().store.resolved_database_url
    with user_errors():
        rows = catalog_status(url)
        queue = queue_depth(url)
        emotion = emotion_models(url)
        held = quarantined(url)
        failures = recent_failures(url, limit=10)
    if as_json:
        print(json.dumps(
            {
                "database": safe_url(url),
                "catalogs": [asdict(r) for r in rows],
                "queue": [asdict(q) for q in queue],
                "quarantined": held,
                "recent_failures": [
                    {"at": at, "catalog": c, "stage": st, "kind": k, "subject": sub, "reason": r}
                    for at, c, st, k, sub, r in failures
                ],
                "models": {
                    "soundtrack_jobs": {q.job: q.model_versions for q in queue},
                    "soundtrack_jobs_labeled": {q.job: labeled(q.model_versions) for q in queue},
                    "emotion": [{"model": m, "version": v, "videos": n} for m, v, n in emotion],
                },
            },
            indent=2,
            default=str,
        ))
        return
    # Narrow tables (they fit 80 columns with short catalog names); what does not fit a column is a line.
    out.print(Text(f"catalogs in {safe_url(url)}"))  # a line, not a title: titles wrap at the table's width
    table = Table()
    table.add_column("catalog", overflow="fold")
    for column in ("videos", "scored", "sound-\ntracked", "failed", "rejected\nrows", "quaran-\ntined"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(row.name, *(human(n) for n in (row.videos, row.scored, row.soundtracked, row.failed,
                                                     row.rejected, row.quarantined)))
    if not rows:
        err.print("no catalogs yet: `emsync catalog ingest MANIFEST` registers one")
    out.print(table)
    for row in rows:
        last = f"{row.last_run:%Y-%m-%d %H:%M} UTC ({row.last_state})" if row.last_run else "never"
        by_music = ", ".join(f"{label}: {n}" for label, n in row.soundtracked_by_music.items()) or "none yet"
        model = row.music_model or f"{get_settings().models.music_model} (from its first backfill)"
        sound = ""
        if row.music_style or row.music_instruments:
            from emsync_models.music.controls import parse_palette

            palette = parse_palette(row.music_instruments).describe() if row.music_instruments else "auto"
            sound = f" (style {row.music_style or 'auto'}, instruments {palette})"
        out.print(Text(f"{row.name}: last run {last}; backfills use {model}{sound}; soundtracks by music model: "
                       f"{by_music}"))
    queue_table = Table(title="work queue (soundtrack runs)")
    for column in ("catalog", "job", "pending", "claimed", "leased"):
        queue_table.add_column(column, justify="right" if column in ("pending", "claimed", "leased") else "left",
                               overflow="fold")
    for q in queue:
        queue_table.add_row(q.catalog, q.job, human(q.pending), human(q.claimed), human(q.leased))
    if not queue:
        queue_table.add_row("-", "-", "0", "0", "0")
    out.print(queue_table)
    for job in sorted({q.job: q for q in queue}.values(), key=lambda q: q.job):
        versions = ", ".join(f"{k}={v}" for k, v in sorted(labeled(job.model_versions).items()))
        out.print(Text(f"job {job.job}: {versions}"))
    models = Table(title="emotion models in use")
    for column in ("model", "version", "videos scored"):
        models.add_column(column)
    for m, v, n in emotion:
        models.add_row(m, v, str(n))
    out.print(models)
    if held:
        table = Table(title="quarantined videos (skipped by scheduled runs; `emsync catalog retry` releases)")
        for column in ("catalog", "video", "since", "reason"):
            table.add_column(column, overflow="fold")
        for q in held:
            table.add_row(q["catalog"], q["video"], f"{q['since']:%Y-%m-%d %H:%M} UTC", q["reason"])
        out.print(table)
    if failures:
        table = Table(title=f"latest {len(failures)} failures (all: `emsync dashboard`, `emsync_failures_total`)")
        for column in ("when (UTC)", "catalog", "stage", "input", "reason"):
            table.add_column(column, overflow="fold")
        for at, catalog, stage, kind, subject, reason in failures:
            name = subject.rstrip("/").rsplit("/", 1)[-1] or subject
            table.add_row(f"{at:%m-%d %H:%M}", catalog, f"{stage} ({kind})", Text(name), Text(reason))
        out.print(table)


def catalog_verify(
    name: Annotated[str | None, typer.Argument(help="a catalog name (default: every stored artifact)")] = None,
    repair: Annotated[bool, typer.Option(help="mark runs with lost objects failed so the next backfill redoes them")]
    = False,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Check that every stored artifact still exists in the object store with its recorded size and SHA-256.

    Exit codes: 0 every object matches, 3 objects missing or changed (with --repair: their runs marked for
    the next backfill), 1 infrastructure failure, 2 bad input."""
    from flows.catalog.queries import check_catalog_name, find_catalog
    from flows.catalog.verify import verify_artifacts

    settings = get_settings()
    with user_errors():
        catalog_id = None
        if name is not None:
            catalog_id = find_catalog(settings.store.resolved_database_url, check_catalog_name(name))
            if catalog_id is None:
                raise InputError(name, "no such catalog (see `emsync status`)")
        result = verify_artifacts(settings, catalog_id, repair=repair)
    broken = len(result.broken_runs)
    if as_json:
        from dataclasses import asdict

        print(json.dumps({"catalog": name, "checked": result.checked, "broken_runs": sorted(result.broken_runs),
                          "runs_marked": result.runs_marked, "problems": [asdict(p) for p in result.problems]},
                         indent=2))
        if result.problems:
            raise typer.Exit(3)
        return
    out.print(f"checked {result.checked} objects: {len(result.problems)} missing or changed, in {broken} runs",
              highlight=False)
    if result.problems:
        table = Table(title="objects that do not match their rows")
        for column in ("run", "kind", "key", "problem"):
            table.add_column(column, overflow="fold")
        for p in result.problems[:200]:
            table.add_row(*(Text(str(v)) for v in (p.run_id, p.kind, p.key, p.problem)))
        out.print(table)
        if repair:
            out.print(f"marked {result.runs_marked} runs failed: the next backfill redoes them", highlight=False)
        else:
            out.print("run again with --repair to have the next backfill redo them", highlight=False)
        # Lost objects are a finding cron jobs and monitoring must see, repaired or not.
        raise typer.Exit(3)


def _print_handled(title: str, handled: list[Any], as_json: bool, hint: str | None = None) -> None:
    from flows.catalog.recovery import as_dicts

    if as_json:
        print(json.dumps({"videos": as_dicts(handled)}, indent=2, default=str))
        return
    if not handled:
        out.print(f"{title}: nothing to do", highlight=False)
        return
    table = Table(title=f"{title}: {len(handled)} video{'s' if len(handled) != 1 else ''}")
    for column in ("catalog", "video", "what"):
        table.add_column(column, overflow="fold")
    for h in handled:
        table.add_row(h.catalog, h.video, h.detail)
    out.print(table)
    if hint:
        err.print(hint, highlight=False)


def catalog_retry(
    catalog: Annotated[str | None, typer.Argument(help="a catalog name (default: every catalog)")] = None,
    external_id: Annotated[list[str] | None, typer.Option(
        "--external-id", "-e", help="only this video (its external id, or source uri); repeatable")] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Give failed or quarantined videos another try: release them and re-queue their failed runs."""
    from flows.catalog.recovery import retry

    with user_errors():
        handled = retry(get_settings().store.resolved_database_url, catalog, tuple(external_id or ()))
    where = " ".join(sorted({h.catalog for h in handled})) or "CATALOG"
    _print_handled("retry", handled, as_json,
                   f"`emsync catalog backfill {where}` soundtracks them; the next scoring run re-scores them")


def catalog_quarantine(
    catalog: Annotated[str, typer.Argument(help="the catalog")],
    external_id: Annotated[str, typer.Argument(help="the video's external id (or source uri)")],
    reason: Annotated[str | None, typer.Option(help="why, shown in `emsync status`")] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Skip a video in scheduled runs (scoring, backfill) until it is retried or replaced."""
    from flows.catalog.recovery import quarantine

    with user_errors():
        handled = quarantine(get_settings().store.resolved_database_url, catalog, external_id, reason)
    _print_handled("quarantine", [handled], as_json)


def catalog_replace(
    catalog: Annotated[str, typer.Argument(help="the catalog")],
    external_id: Annotated[str, typer.Argument(help="the video's external id (or source uri)")],
    uri: Annotated[str, typer.Argument(help="the new content: a file path or s3:// URI (may be the same path)")],
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Put new content (a fixed file) under the same external id; the next backfill soundtracks it."""
    from flows.catalog.manifest import resolve_source
    from flows.catalog.recovery import replace
    from flows.storage.sources import materialize

    settings = get_settings()
    with user_errors():
        store = settings.store
        source = resolve_source(uri, Path.cwd(), store.allowed_roots, store.resolved_allowed_s3_sources)
        local, digest = materialize(settings, source.uri, refresh=True)
        from flows.soundtrack import probe_input

        probe = probe_input(local, settings).to_dict()
        handled = replace(settings.store.resolved_database_url, catalog, external_id, digest, source.uri, probe)
    _print_handled("replace", [handled], as_json, f"`emsync catalog backfill {handled.catalog}` soundtracks it")

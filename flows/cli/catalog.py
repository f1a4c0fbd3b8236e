"""`emsync db upgrade`, `emsync catalog ingest|score|backfill`, `emsync status` (registered in flows.cli.app).

Argument handling and printing only; the work is in the flows (flows.catalog.flows) and the database layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from emsync_models.errors import InputError
from flows.catalog.manifest import MANIFEST_SUFFIXES
from flows.settings import get_settings

out = Console()
err = Console(stderr=True)


def _user_errors() -> Any:  # noqa: ANN401 - a context manager from flows.cli.app
    from flows.cli.app import user_errors

    return user_errors()


def _manifest_or_name(value: str) -> tuple[str | None, str | None]:
    """(manifest path, None) for an existing manifest file, else (None, name of an existing catalog).

    Checked here, before any flow starts, so bad input is one line and not a flow-run traceback.
    """
    if value.lower().startswith("s3://"):
        # A manifest kept in a bucket (the nightly deployment's form): checked for shape here, read by the flow.
        # Path() would fold the '//' and turn it into a local path that does not exist.
        from flows.catalog.manifest import resolve_source

        source = resolve_source(value, Path("."), [])
        if Path(source.key or "").suffix.lower() not in MANIFEST_SUFFIXES:
            raise InputError(value, f"not a manifest (use {', '.join(sorted(MANIFEST_SUFFIXES))})")
        _check_manifest_object(source.uri, source.bucket or "", source.key or "")
        return source.uri, None
    path = Path(value).expanduser()
    if path.is_file():
        if path.suffix.lower() not in MANIFEST_SUFFIXES:
            raise InputError(path, f"not a manifest (use {', '.join(sorted(MANIFEST_SUFFIXES))})")
        return str(path.resolve()), None
    if path.suffix.lower() in MANIFEST_SUFFIXES or "/" in value:
        raise InputError(value, "no such manifest file")
    from flows.catalog.queries import check_catalog_name, find_catalog

    name = check_catalog_name(value)
    if find_catalog(get_settings().resolved_database_url, name) is None:
        raise InputError(value, "neither a manifest file nor a known catalog (see `emsync status`)")
    return None, name


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


def _print_summary(title: str, result: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    for key, value in result.items():
        if key == "failures":
            continue
        shown = f"{value:+.3f}" if isinstance(value, float) else str(value)
        table.add_row(key, shown)
    out.print(table)
    failures = result.get("failures") or []
    if failures:
        bad = Table(title=f"{len(failures)} problems (recorded in the database)")
        bad.add_column("where")
        bad.add_column("subject", overflow="fold")
        bad.add_column("reason", overflow="fold")
        for f in failures:
            bad.add_row(str(f.get("where", "")), str(f.get("subject", "")), str(f.get("reason", "")))
        out.print(bad)


def db_upgrade(
    revision: Annotated[str, typer.Option(help="target revision")] = "head",
) -> None:
    """Create or migrate the metadata database (SQLite by default, PostgreSQL via EMSYNC_DATABASE_URL)."""
    from db.session import safe_url, upgrade

    url = get_settings().resolved_database_url
    with _user_errors():
        at = upgrade(url, revision)
    out.print(f"database {safe_url(url)} is at revision {at}", soft_wrap=True, highlight=False)


def catalog_ingest(
    manifest: Annotated[str, typer.Argument(
        help="CSV or JSONL manifest (a local file or s3://bucket/key) of local paths or s3:// URIs")],
    catalog: Annotated[str | None, typer.Option("--catalog", "-c", help="catalog name (default: file name)")] = None,
) -> None:
    """Register a manifest's videos in a catalog; bad rows are reported one by one, the rest proceeds."""
    from flows.catalog.flows import ingest_catalog

    with _user_errors():
        path, _ = _manifest_or_name(manifest)
        if path is None:
            raise InputError(manifest, "no such manifest file")
        result = ingest_catalog(path, catalog)
    _print_summary(f"ingested {result['catalog']}", result)


def catalog_score(
    manifest_or_name: Annotated[str, typer.Argument(help="a manifest to ingest and score, or a catalog name")],
    catalog: Annotated[str | None, typer.Option("--catalog", "-c", help="catalog name for a manifest")] = None,
) -> None:
    """Detect cuts and score emotions for every video not yet scored by the current models."""
    from flows.catalog.flows import score_catalog

    with _user_errors():
        manifest, name = _manifest_or_name(manifest_or_name)
        result = score_catalog(manifest, catalog or name)
    _print_summary(f"scored {result['catalog']}", result)


def catalog_backfill(
    manifest_or_name: Annotated[str, typer.Argument(help="a catalog name, or a manifest to ingest first")],
    limit: Annotated[int | None, typer.Option(min=0, help="soundtrack at most this many videos")] = None,
    catalog: Annotated[str | None, typer.Option("--catalog", "-c", help="catalog name for a manifest")] = None,
) -> None:
    """Soundtrack every video of a catalog that lacks one for the current model versions (resumable)."""
    from flows.catalog.flows import backfill, ingest_catalog

    with _user_errors():
        manifest, name = _manifest_or_name(manifest_or_name)
        if manifest is not None:
            ingested = ingest_catalog(manifest, catalog)
            name = ingested["catalog"]
            if ingested["failures"]:
                _print_summary(f"ingested {name}", ingested)
        assert name is not None
        result = backfill(catalog or name, limit)
    _print_summary(f"backfill {result['catalog']}", result)


def status() -> None:
    """A table of catalogs: videos, scored, soundtracked, failed, last run."""
    from db.session import safe_url
    from flows.catalog.queries import catalog_status

    url = get_settings().resolved_database_url
    with _user_errors():
        rows = catalog_status(url)
    table = Table(title=f"catalogs in {safe_url(url)}")
    for column in ("catalog", "videos", "scored", "soundtracked", "failed", "rejected rows", "last run"):
        table.add_column(column, justify="left" if column in ("catalog", "last run") else "right")
    for row in rows:
        last = f"{row.last_run:%Y-%m-%d %H:%M:%S} UTC ({row.last_state})" if row.last_run else "never"
        table.add_row(
            row.name, str(row.videos), str(row.scored), str(row.soundtracked), str(row.failed), str(row.rejected), last
        )
    if not rows:
        err.print("no catalogs yet: `emsync catalog ingest MANIFEST` registers one")
    out.print(table)

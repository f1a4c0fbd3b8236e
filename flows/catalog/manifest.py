"""Catalog manifests: CSV or JSONL rows naming videos by local path or s3:// URI.

Reading never stops at a bad row: each bad row becomes a `RowProblem` with its row number and a clear
reason (malformed, non-UTF-8, duplicate, unsupported scheme, path outside the allowed roots, missing
file), and every good row goes on. Only a manifest that cannot be read at all raises `InputError`.

CSV: a header with a `uri` (or `path`) column, optional `external_id`; other columns become metadata.
JSONL: one object per line with `uri` (or `path`), optional `external_id`, optional `metadata` object;
other keys become metadata too.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from emsync_models.errors import InputError

MANIFEST_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
URI_KEYS = ("uri", "path")
MAX_URI = 4096


@dataclass(frozen=True)
class ManifestRow:
    row: int  # 1-based line number in the file (CSV: the header is line 1)
    uri: str
    external_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RowProblem:
    row: int
    subject: str
    reason: str


@dataclass(frozen=True)
class Manifest:
    path: str
    rows: list[ManifestRow]
    problems: list[RowProblem]


@dataclass(frozen=True)
class Source:
    """Where a row's bytes live: a checked local file, or an object in an S3 bucket."""

    uri: str  # the canonical spelling stored in the database
    local_path: str | None = None
    bucket: str | None = None
    key: str | None = None


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _printable(text: str) -> str:
    """Bytes that were not UTF-8 shown as \\xNN, so a reason line is always printable."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def read_manifest(path: Path) -> Manifest:
    path = Path(path)
    kind = MANIFEST_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(path, f"unsupported manifest format; use one of {', '.join(sorted(MANIFEST_SUFFIXES))}")
    if not path.is_file():
        raise InputError(path, "no such manifest file")
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):  # Excel's UTF-8 BOM
        raw = raw[3:]
    rows, problems = _read_csv(path, raw) if kind == "csv" else _read_jsonl(raw)
    rows, dup_problems = _drop_duplicates(rows)
    return Manifest(path=str(path), rows=rows, problems=sorted(problems + dup_problems, key=lambda p: p.row))


def _row_from_fields(row: int, fields: dict[str, Any]) -> ManifestRow | RowProblem:
    uri_key = next((k for k in URI_KEYS if fields.get(k) not in (None, "")), None)
    if uri_key is None:
        return RowProblem(row, "(row)", "missing 'uri' (or 'path') value")
    uri = fields[uri_key]
    if not isinstance(uri, str):
        return RowProblem(row, str(uri), f"'{uri_key}' must be a string")
    uri = uri.strip()
    if _has_surrogates(uri):
        return RowProblem(row, _printable(uri), "name is not valid UTF-8")
    if len(uri) > MAX_URI or "\x00" in uri:
        return RowProblem(row, uri[:80], "uri is too long or holds a NUL character")
    external = fields.get("external_id")
    if external is not None and not isinstance(external, str | int):
        return RowProblem(row, uri, "'external_id' must be a string or an integer")
    external_id = None if external in (None, "") else str(external).strip()
    if external_id is not None and (_has_surrogates(external_id) or len(external_id) > 400):
        return RowProblem(row, uri, "'external_id' is not valid UTF-8 or longer than 400 characters")
    metadata: dict[str, Any] = {}
    nested = fields.get("metadata")
    if nested is not None:
        if not isinstance(nested, dict):
            return RowProblem(row, uri, "'metadata' must be an object")
        metadata.update(nested)
    metadata.update({k: v for k, v in fields.items() if k not in (*URI_KEYS, "external_id", "metadata")})
    if any(_has_surrogates(str(k)) or _has_surrogates(str(v)) for k, v in metadata.items()):
        return RowProblem(row, uri, "metadata is not valid UTF-8")
    return ManifestRow(row=row, uri=uri, external_id=external_id, metadata=metadata)


def _read_csv(path: Path, raw: bytes) -> tuple[list[ManifestRow], list[RowProblem]]:
    # surrogateescape keeps the good rows of a file with a few non-UTF-8 bytes readable; the bad ones
    # are found per row below.
    text = raw.decode("utf-8", "surrogateescape")
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\x00extra")
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise InputError(path, f"CSV header is malformed ({exc})") from None
    if not header:
        raise InputError(path, "manifest is empty (a CSV header with a 'uri' column is needed)")
    names = [h.strip() for h in header]
    if not any(k in names for k in URI_KEYS):
        raise InputError(path, f"CSV header has no 'uri' (or 'path') column: {', '.join(map(_printable, names))}")
    reader.fieldnames = names
    rows: list[ManifestRow] = []
    problems: list[RowProblem] = []
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(RowProblem(reader.line_num, "(row)", f"malformed CSV ({exc})"))
            continue
        line = reader.line_num
        extra = record.pop("\x00extra", None)
        if extra is not None:
            got = len(names) + len(extra)
            problems.append(RowProblem(line, "(row)", f"{got} fields for a {len(names)}-column header"))
            continue
        if all(v in (None, "") for v in record.values()):
            continue  # blank line
        if any(v is None for v in record.values()):
            missing = [k for k, v in record.items() if v is None]
            problems.append(RowProblem(line, "(row)", f"too few fields (missing {', '.join(missing)})"))
            continue
        result = _row_from_fields(line, dict(record))
        (problems if isinstance(result, RowProblem) else rows).append(result)  # type: ignore[arg-type]
    return rows, problems


def _read_jsonl(raw: bytes) -> tuple[list[ManifestRow], list[RowProblem]]:
    rows: list[ManifestRow] = []
    problems: list[RowProblem] = []
    for number, line_bytes in enumerate(raw.split(b"\n"), start=1):
        if not line_bytes.strip():
            continue
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError:
            shown = line_bytes.decode("utf-8", "backslashreplace")[:120]
            problems.append(RowProblem(number, shown, "line is not valid UTF-8"))
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(RowProblem(number, line[:120], f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(value, dict):
            problems.append(RowProblem(number, line[:120], "each line must be a JSON object"))
            continue
        result = _row_from_fields(number, value)
        (problems if isinstance(result, RowProblem) else rows).append(result)  # type: ignore[arg-type]
    return rows, problems


def _drop_duplicates(rows: list[ManifestRow]) -> tuple[list[ManifestRow], list[RowProblem]]:
    kept: list[ManifestRow] = []
    problems: list[RowProblem] = []
    seen_uri: dict[str, int] = {}
    seen_id: dict[str, int] = {}
    for row in rows:
        if row.uri in seen_uri:
            problems.append(RowProblem(row.row, row.uri, f"duplicate entry: same uri as row {seen_uri[row.uri]}"))
            continue
        if row.external_id is not None and row.external_id in seen_id:
            problems.append(
                RowProblem(
                    row.row, row.uri, f"duplicate external_id {row.external_id!r} (row {seen_id[row.external_id]})"
                )
            )
            continue
        seen_uri[row.uri] = row.row
        if row.external_id is not None:
            seen_id[row.external_id] = row.row
        kept.append(row)
    return kept, problems


def resolve_source(uri: str, base_dir: Path, allowed_roots: list[Path]) -> Source:
    """Check one row's uri and say where its bytes are; raises `InputError` naming the problem.

    Local paths (plain or file://) are resolved against the manifest's folder, symlinks followed, and
    must land inside one of `allowed_roots` (default: the manifest's folder).
    """
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter is not a scheme
        scheme = ""
    if scheme == "s3":
        bucket, key = parsed.netloc, parsed.path.lstrip("/")
        if not bucket or not key or key.endswith("/"):
            raise InputError(uri, "s3 URIs must name a bucket and an object: s3://bucket/path/to/video.mp4")
        return Source(uri=f"s3://{bucket}/{key}", bucket=bucket, key=key)
    if scheme not in ("", "file"):
        raise InputError(uri, f"unsupported URI scheme '{scheme}' (use a local path, file:// or s3://bucket/key)")
    raw_path = unquote(parsed.path) if scheme == "file" else uri
    if scheme == "file" and parsed.netloc not in ("", "localhost"):
        raise InputError(uri, "file:// URIs must be local (no host)")
    candidate = Path(raw_path).expanduser()
    if not candidate.is_absolute():
        candidate = base_dir / candidate
    resolved = candidate.resolve()
    roots = [Path(r).expanduser().resolve() for r in (allowed_roots or [base_dir])]
    if not any(resolved.is_relative_to(root) for root in roots):
        shown = ", ".join(str(r) for r in roots)
        raise InputError(uri, f"path escapes the allowed roots ({shown}); set EMSYNC_ALLOWED_ROOTS to allow it")
    if not resolved.exists():
        raise InputError(uri, "no such file")
    if not resolved.is_file():
        raise InputError(uri, "not a regular file")
    return Source(uri=str(resolved), local_path=str(resolved))


def rebase_on_bucket(rows: list[ManifestRow], manifest_uri: str) -> list[ManifestRow]:
    """Rows of a manifest kept in a bucket name objects beside it: relative paths become s3:// URIs.

    Absolute local paths and explicit schemes stay as written (and meet the usual allow-list checks).
    """
    bucket, _, key = manifest_uri[len("s3://"):].partition("/")
    prefix = key.rpartition("/")[0]
    out = []
    for row in rows:
        parsed = urlparse(row.uri)
        if parsed.scheme or row.uri.startswith(("/", "~")):
            out.append(row)
            continue
        parts = [p for p in row.uri.split("/") if p not in ("", ".")]
        rebased = "/".join([*(prefix.split("/") if prefix else []), *parts])
        out.append(replace(row, uri=f"s3://{bucket}/{rebased}"))
    return out

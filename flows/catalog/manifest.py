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
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from emsync_models.errors import InputError, path_errors_as_input
from flows.storage.sources import Source

MANIFEST_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
URI_KEYS = ("uri", "path")
MAX_URI = 4096
# Longest CSV field we accept; longer ones are reported on their own row (the csv module's own limit
# is raised past the file's size so its error never lands on a neighbouring row).
MAX_FIELD = 131_072
MAX_METADATA = 65_536  # characters of a row's metadata as JSON
# S3's bucket naming rules (lowercase letters, digits, dots, hyphens; 3-63; letter/digit at both ends).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4 = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


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


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _printable(text: str) -> str:
    """Bytes that were not UTF-8 and control characters (NUL ...) shown as \\xNN, so a subject or reason
    is always printable and storable (PostgreSQL text cannot hold NUL)."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() or ch in " \t" else f"\\x{ord(ch):02x}" for ch in text)


MAX_DEPTH = 32  # nesting levels a row's metadata may have (JSON allows any; the database and reports don't)


def _metadata_problem(value: Any) -> str | None:  # noqa: ANN401 - any JSON value
    """What makes a metadata value unstorable (too deep, a NUL, NaN/Infinity), found without recursion so
    that no nesting depth can exhaust the interpreter's stack."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"metadata is nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, str):
            if "\x00" in item:
                return "metadata holds a NUL character"
            if _has_surrogates(item):
                return "metadata is not valid UTF-8"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "metadata holds NaN or Infinity (not valid JSON for the database)"
        elif isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return None


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
    rows, dup_problems = _drop_duplicates(rows, path.resolve().parent)
    return Manifest(path=str(path), rows=rows, problems=sorted(problems + dup_problems, key=lambda p: p.row))


def _row_from_fields(row: int, fields: dict[str, Any]) -> ManifestRow | RowProblem:
    uri_key = next((k for k in URI_KEYS if fields.get(k) not in (None, "")), None)
    if uri_key is None:
        return RowProblem(row, "(row)", "missing 'uri' (or 'path') value")
    uri = fields[uri_key]
    if not isinstance(uri, str):
        return RowProblem(row, _printable(str(uri))[:200], f"'{uri_key}' must be a string")
    uri = uri.strip()
    if _has_surrogates(uri):
        return RowProblem(row, _printable(uri)[:200], "name is not valid UTF-8")
    if "\x00" in uri:
        return RowProblem(row, _printable(uri)[:200], "uri holds a NUL character")
    if len(uri) > MAX_URI or not uri.isprintable():
        return RowProblem(row, _printable(uri)[:200], "uri is too long or holds control characters")
    shown = _printable(uri)
    external = fields.get("external_id")
    if external is not None and not isinstance(external, str | int) or isinstance(external, bool):
        return RowProblem(row, shown, "'external_id' must be a string or an integer")
    external_id = None if external in (None, "") else str(external).strip()
    if external_id is not None:
        if _has_surrogates(external_id) or len(external_id) > 400:
            return RowProblem(row, shown, "'external_id' is not valid UTF-8 or longer than 400 characters")
        if not external_id.isprintable():
            return RowProblem(row, shown, "'external_id' holds a NUL or another control character")
    metadata: dict[str, Any] = {}
    nested = fields.get("metadata")
    if nested is not None:
        if not isinstance(nested, dict):
            return RowProblem(row, shown, "'metadata' must be an object")
        metadata.update(nested)
    metadata.update({k: v for k, v in fields.items() if k not in (*URI_KEYS, "external_id", "metadata")})
    problem = _metadata_problem(metadata)
    if problem is not None:
        return RowProblem(row, shown, problem)
    if len(json.dumps(metadata, default=str)) > MAX_METADATA:
        return RowProblem(row, shown, f"metadata is longer than {MAX_METADATA} characters as JSON")
    return ManifestRow(row=row, uri=uri, external_id=external_id, metadata=metadata)


def _read_csv(path: Path, raw: bytes) -> tuple[list[ManifestRow], list[RowProblem]]:
    # surrogateescape keeps the good rows of a file with a few non-UTF-8 bytes readable; the bad ones
    # are found per row below.
    text = raw.decode("utf-8", "surrogateescape")
    with _field_limit(len(text) + 1):
        return _read_csv_text(path, text)


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    """Let the csv module read fields of any length; `MAX_FIELD` is checked per row instead."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, limit))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _read_csv_text(path: Path, text: str) -> tuple[list[ManifestRow], list[RowProblem]]:
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
        before = reader.line_num
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(RowProblem(max(reader.line_num, before + 1), "(row)", f"malformed CSV ({exc})"))
            continue
        line = reader.line_num
        long = [k for k, v in record.items() if isinstance(v, str) and len(v) > MAX_FIELD]
        if long:
            problems.append(RowProblem(line, "(row)", f"field {_printable(str(long[0]))!r} is longer than "
                                       f"{MAX_FIELD} characters"))
            continue
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
            problems.append(RowProblem(number, "(row)", "line is not valid UTF-8"))
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(RowProblem(number, "(row)", f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        except RecursionError:
            problems.append(RowProblem(number, "(row)", f"JSON nested too deeply (at most {MAX_DEPTH} levels)"))
            continue
        except ValueError as exc:  # an integer longer than Python's 4300-digit conversion limit
            problems.append(RowProblem(number, "(row)", f"not usable JSON ({str(exc).split(';')[0][:120]})"))
            continue
        if not isinstance(value, dict):
            problems.append(RowProblem(number, "(row)", "each line must be a JSON object"))
            continue
        result = _row_from_fields(number, value)
        (problems if isinstance(result, RowProblem) else rows).append(result)  # type: ignore[arg-type]
    return rows, problems


def source_key(uri: str, base_dir: Path) -> str:
    """One spelling per source, for comparing rows: `a.mp4`, `./a.mp4` and `file:///abs/a.mp4` agree."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower() if len(parsed.scheme) > 1 else ""
    if scheme == "s3":
        return f"s3://{parsed.netloc}/{parsed.path.lstrip('/')}"
    if scheme not in ("", "file"):
        return uri
    raw = unquote(parsed.path) if scheme == "file" else uri
    candidate = Path(raw).expanduser()
    if not candidate.is_absolute():
        candidate = base_dir / candidate
    try:
        return str(candidate.resolve())
    except (OSError, RuntimeError):  # a symlink loop: compare the spelling, resolve_source reports it
        return str(candidate)


def _drop_duplicates(rows: list[ManifestRow], base_dir: Path) -> tuple[list[ManifestRow], list[RowProblem]]:
    kept: list[ManifestRow] = []
    problems: list[RowProblem] = []
    seen_uri: dict[str, tuple[int, str]] = {}  # the first row naming each file, and how it named it
    seen_id: dict[str, int] = {}
    for row in rows:
        key = source_key(row.uri, base_dir)
        if key in seen_uri:
            first, written = seen_uri[key]
            same = "same uri" if written == row.uri else "same file"
            problems.append(RowProblem(row.row, _printable(row.uri), f"duplicate entry: {same} as row {first}"))
            continue
        if row.external_id is not None and row.external_id in seen_id:
            problems.append(
                RowProblem(
                    row.row,
                    _printable(row.uri),
                    f"duplicate external_id {row.external_id!r} (row {seen_id[row.external_id]})",
                )
            )
            continue
        seen_uri[key] = (row.row, row.uri)
        if row.external_id is not None:
            seen_id[row.external_id] = row.row
        kept.append(row)
    return kept, problems


def check_s3_location(uri: str, bucket: str, key: str) -> None:
    """S3's own rules for a bucket name and an object key, plus no '.'/'..' segments (no traversal)."""
    if not bucket or not key or key.endswith("/"):
        raise InputError(uri, "s3 URIs must name a bucket and an object: s3://bucket/path/to/video.mp4")
    if not _BUCKET.match(bucket) or ".." in bucket or _IPV4.match(bucket):
        raise InputError(uri, f"invalid bucket name {bucket!r} (3-63 lowercase letters, digits, '.' or '-')")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise InputError(uri, "object key may not hold empty, '.' or '..' path segments")
    if len(key.encode()) > 1024 or not key.isprintable():
        raise InputError(uri, "object key is longer than 1024 bytes or holds control characters")


def parse_s3_prefix(prefix: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` -> ("bucket", "some/prefix/"); a bare `bucket` allows all of it."""
    text = prefix[5:] if prefix.startswith("s3://") else prefix
    bucket, _, key_prefix = text.partition("/")
    return bucket, key_prefix


def s3_allowed(bucket: str, key: str, allowed: list[str]) -> bool:
    """Whole path segments: `s3://b/inputs` (with or without the slash) admits `inputs/x.mp4`, never
    `inputs-private/x.mp4` or `inputsecret.mp4`; a bare bucket admits all of it."""
    for b, prefix in map(parse_s3_prefix, allowed):
        folder = prefix.strip("/")
        if b == bucket and (not folder or key.startswith(folder + "/")):
            return True
    return False


def resolve_source(uri: str, base_dir: Path, allowed_roots: Sequence[Path], allowed_s3: Sequence[str] | None = None,
                   ) -> Source:
    """Check one row's uri and say where its bytes are; raises `InputError` naming the problem.

    Local paths (plain or file://) are resolved against the manifest's folder, symlinks followed, and
    must land inside one of `allowed_roots` (default: the manifest's folder). s3:// objects must lie
    under one of `allowed_s3` (`s3://bucket/prefix/`); None skips that check (callers that read
    settings pass `Settings.store.resolved_allowed_s3_sources`).
    """
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter is not a scheme
        scheme = ""
    if scheme == "s3":
        bucket, key = parsed.netloc, parsed.path.lstrip("/")
        check_s3_location(uri, bucket, key)
        if allowed_s3 is not None and not s3_allowed(bucket, key, allowed_s3):
            shown = ", ".join(allowed_s3) or "(none)"
            raise InputError(uri, f"object is outside the allowed S3 locations ({shown}); "
                             "set EMSYNC_ALLOWED_S3_SOURCES to allow it")
        return Source(uri=f"s3://{bucket}/{key}", bucket=bucket, key=key)
    if scheme not in ("", "file"):
        raise InputError(uri, f"unsupported URI scheme '{scheme}' (use a local path, file:// or s3://bucket/key)")
    raw_path = unquote(parsed.path) if scheme == "file" else uri
    if scheme == "file" and parsed.netloc not in ("", "localhost"):
        raise InputError(uri, "file:// URIs must be local (no host)")
    with path_errors_as_input(uri):  # a symlink loop, a 256-byte name: this row's problem, not the run's
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

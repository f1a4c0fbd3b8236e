"""Bad manifests: every bad row is reported with its row number and reason; good rows go on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emsync_models.errors import InputError
from flows.catalog.manifest import read_manifest, resolve_source


def _reasons(path: Path) -> dict[int, str]:
    return {p.row: p.reason for p in read_manifest(path).problems}


def test_csv_rows_are_judged_one_by_one(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(
        b"uri,external_id,title\n"
        b"a.mp4,1,first\n"  # line 2: fine
        b"b.mp4,2,too,many\n"  # line 3: malformed
        b",3,no uri\n"  # line 4: missing uri
        b"a.mp4,4,again\n"  # line 5: duplicate uri
        b"c.mp4,1,same id\n"  # line 6: duplicate external id
        b"caf\xe9.mp4,5,latin-1\n"  # line 7: not UTF-8
        b"d.mp4,6\n"  # line 8: too few fields
        b"e.mp4,7,fine\n"  # line 9: fine
    )
    parsed = read_manifest(manifest)
    assert [(r.row, r.uri, r.external_id, r.metadata) for r in parsed.rows] == [
        (2, "a.mp4", "1", {"title": "first"}),
        (9, "e.mp4", "7", {"title": "fine"}),
    ]
    reasons = _reasons(manifest)
    assert set(reasons) == {3, 4, 5, 6, 7, 8}
    assert "fields for a 3-column header" in reasons[3]
    assert "missing 'uri'" in reasons[4]
    assert "duplicate entry" in reasons[5] and "row 2" in reasons[5]
    assert "duplicate external_id" in reasons[6]
    assert "not valid UTF-8" in reasons[7]
    assert "too few fields" in reasons[8]
    bad = next(p for p in parsed.problems if p.row == 7)
    assert "\\xe9" in bad.subject, "the bad bytes are shown, printable"


def test_jsonl_rows_are_judged_one_by_one(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    lines = [
        json.dumps({"uri": "a.mp4", "external_id": 7, "metadata": {"lang": "en"}, "year": 1999}).encode(),
        b"{not json",
        b"[1, 2]",
        json.dumps({"path": "b.mp4", "metadata": "oops"}).encode(),
        b'{"uri": "c\xff.mp4"}',
        b"",
        json.dumps({"uri": "a.mp4"}).encode(),
    ]
    manifest.write_bytes(b"\n".join(lines) + b"\n")
    parsed = read_manifest(manifest)
    assert [(r.row, r.uri, r.external_id, r.metadata) for r in parsed.rows] == [
        (1, "a.mp4", "7", {"lang": "en", "year": 1999})
    ]
    reasons = _reasons(manifest)
    assert "not valid JSON" in reasons[2]
    assert "JSON object" in reasons[3]
    assert "'metadata' must be an object" in reasons[4]
    assert "not valid UTF-8" in reasons[5]
    assert "duplicate entry" in reasons[7]


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "manifest is empty"), (b"name,size\nx,1\n", "no 'uri'")],
)
def test_unusable_manifests_fail_as_a_whole(tmp_path: Path, content: bytes, problem: str) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(content)
    with pytest.raises(InputError, match=problem):
        read_manifest(manifest)


def test_unsupported_or_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unsupported manifest format"):
        read_manifest(tmp_path / "m.xlsx")
    with pytest.raises(InputError, match="no such manifest"):
        read_manifest(tmp_path / "m.csv")


def test_sources_are_checked(tmp_path: Path) -> None:
    root = tmp_path / "videos"
    root.mkdir()
    (root / "ok.mp4").write_bytes(b"x")
    (root / "sub").mkdir()
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"x")
    (root / "link.mp4").symlink_to(outside)

    assert resolve_source("ok.mp4", root, []).local_path == str(root / "ok.mp4")
    assert resolve_source(f"file://{root / 'ok.mp4'}", root, []).local_path == str(root / "ok.mp4")
    s3 = resolve_source("s3://bucket/a/b.mp4", root, [])
    assert (s3.bucket, s3.key) == ("bucket", "a/b.mp4")
    for uri, problem in [
        ("../secret.mp4", "escapes the allowed roots"),
        (str(outside), "escapes the allowed roots"),
        ("link.mp4", "escapes the allowed roots"),  # a symlink pointing out is outside too
        ("missing.mp4", "no such file"),
        ("sub", "not a regular file"),
        ("http://example.com/v.mp4", "unsupported URI scheme 'http'"),
        ("gs://bucket/v.mp4", "unsupported URI scheme 'gs'"),
        ("s3://bucket-only", "must name a bucket and an object"),
    ]:
        with pytest.raises(InputError, match=problem):
            resolve_source(uri, root, [])
    # Widening the allowed roots lets the outside file in.
    assert resolve_source(str(outside), root, [tmp_path]).local_path == str(outside)

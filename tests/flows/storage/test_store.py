"""The object store: both implementations keep the same promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from emsync_models.errors import InputError
from flows.settings import get_settings
from flows.storage.store import IntegrityError, LocalStore, ObjectStore, artifact_key, make_store

HASH = "a" * 64


def _exercise(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"soundtrack" * 1000)
    key = artifact_key(HASH, {"music": "m1"}, {"seed": 1}, "audio", "wav")
    stored = store.put_file(key, src, content_type="audio/wav")
    assert stored.size == 10_000 and len(stored.sha256) == 64
    assert store.exists(key) and store.stat(key) == stored
    assert store.list("soundtracks/") == [key]
    # Re-putting the same key overwrites in place: still one object.
    store.put_file(key, src)
    assert store.list() == [key]
    out = store.get_file(key, tmp_path / "out" / "a.wav")
    assert out.read_bytes() == src.read_bytes()
    with pytest.raises(IntegrityError):
        store.get_file(key, tmp_path / "bad.wav", expected_sha256="0" * 64)
    assert not (tmp_path / "bad.wav").exists(), "a file that failed verification must not reach its destination"
    assert store.presigned_url(key, 60)
    store.delete(key)
    assert not store.exists(key) and store.list() == []


def test_local_store(tmp_path: Path) -> None:
    _exercise(LocalStore(tmp_path / "objects"), tmp_path)


def test_local_store_detects_corruption(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    src = tmp_path / "x.mid"
    src.write_bytes(b"MThd")
    store.put_file("a/x.mid", src)
    (tmp_path / "objects" / "a" / "x.mid").write_bytes(b"MThe")  # bit rot behind our back
    with pytest.raises(IntegrityError):
        store.get_file("a/x.mid", tmp_path / "copy.mid")


@pytest.mark.integration
def test_s3_store(s3_env: dict[str, str], tmp_path: Path) -> None:
    store = make_store(get_settings())
    assert "testing" not in repr(store), "credentials must never reach a log line"
    _exercise(store, tmp_path)


def test_artifact_keys_are_deterministic() -> None:
    a = artifact_key(HASH, {"music": "m1", "emotion": "e1"}, {"seed": 1, "top_p": 0.9}, "midi", ".mid")
    b = artifact_key(HASH, {"emotion": "e1", "music": "m1"}, {"top_p": 0.9, "seed": 1}, "midi", "mid")
    assert a == b and a.startswith(f"soundtracks/aa/{HASH}/") and a.endswith("/midi.mid")
    assert a != artifact_key(HASH, {"music": "m2", "emotion": "e1"}, {"seed": 1, "top_p": 0.9}, "midi", "mid")
    assert a != artifact_key(HASH, {"music": "m1", "emotion": "e1"}, {"seed": 2, "top_p": 0.9}, "midi", "mid")
    with pytest.raises(InputError):
        artifact_key("not-a-hash", {}, {}, "midi", "mid")
    with pytest.raises(InputError):
        artifact_key(HASH, {}, {}, "../x", "mid")


def test_bad_keys_are_refused(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for key in ("../escape", "/abs", "a//b", ".meta/x", ""):
        with pytest.raises(InputError):
            store.exists(key)

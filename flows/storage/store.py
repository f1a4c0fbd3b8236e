"""The object store: one interface, a local folder (default) or S3 through the `minio` SDK.

Guarantees every implementation keeps:
- an object is either wholly there or not there: uploads go to a temporary name and appear by one
  atomic rename (local) or one atomic PUT / multipart completion (S3);
- every object carries our own SHA-256 (S3 ETags are not an MD5 for multipart uploads), and reads
  verify it before the file reaches its destination;
- keys are deterministic (`artifact_key`), so re-running a job overwrites, never duplicates.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from emsync_models.errors import InputError

if TYPE_CHECKING:
    from flows.settings import Settings

CHUNK = 1 << 20
# Objects at or below this size go up in one PUT; larger ones in parts of this size.
PART_SIZE = 64 * 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KEY_PART = re.compile(r"^[A-Za-z0-9._-]+$")


class IntegrityError(RuntimeError):
    """An object's bytes do not match the checksum recorded for it."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    sha256: str
    size: int


def sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def canonical_json(value: Any) -> str:
    """One spelling per value, so hashes of parameter dicts do not depend on key order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def fingerprint(value: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:length]


def artifact_key(content_hash: str, model_versions: dict[str, str], params: dict[str, Any], kind: str, ext: str) -> str:
    """The object key of one artifact: same video + model versions + parameters -> same key.

    `soundtracks/ab/<content hash>/<16-hex fingerprint of versions and params>/<kind>.<ext>`; the
    two-character fan-out keeps local folders and S3 listings small.
    """
    if not _HEX64.match(content_hash):
        raise InputError(content_hash, "content hash must be 64 lowercase hex characters (SHA-256)")
    ext = ext.lstrip(".").lower()
    for name, part in (("kind", kind), ("ext", ext)):
        if not _KEY_PART.match(part):
            raise InputError(part, f"artifact {name} may hold only letters, digits, '.', '_' and '-'")
    run_fp = fingerprint({"models": model_versions, "params": params})
    return f"soundtracks/{content_hash[:2]}/{content_hash}/{run_fp}/{kind}.{ext}"


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise InputError(key, "object key must be a relative path without empty, '.' or '..' parts")
    if parts[0].startswith("."):
        raise InputError(key, "object keys may not start with '.' (reserved for store metadata)")
    return key


@runtime_checkable
class ObjectStore(Protocol):
    def put_file(self, key: str, path: Path, content_type: str | None = None) -> StoredObject: ...

    def get_file(self, key: str, dest: Path, expected_sha256: str | None = None) -> Path: ...

    def stat(self, key: str) -> StoredObject | None: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> list[str]: ...

    def delete(self, key: str) -> None: ...

    def presigned_url(self, key: str, expires_s: int = 3600) -> str: ...


def _verified_move(tmp: Path, dest: Path, key: str, expected: str | None) -> Path:
    """Check `tmp` against `expected`, then move it to `dest`; a bad file never reaches `dest`."""
    actual, _ = sha256_file(tmp)
    if expected is not None and actual != expected:
        tmp.unlink(missing_ok=True)
        raise IntegrityError(f"{key}: checksum mismatch (stored {expected[:12]}..., read {actual[:12]}...)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, dest)
    return dest


class LocalStore:
    """Objects as files under `root`; checksums in `root/.meta/<key>.json`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = self.root / ".tmp"
        self._meta = self.root / ".meta"
        self._sweep_stale_uploads()

    def _sweep_stale_uploads(self, older_than_s: float = 3600.0) -> None:
        """Remove temporary files that a killed upload left (never visible as objects, but they take space)."""
        if not self._tmp.is_dir():
            return
        cutoff = time.time() - older_than_s
        for leftover in self._tmp.iterdir():
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
            except OSError:
                pass  # another process finished or removed it meanwhile

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def _meta_path(self, key: str) -> Path:
        return self._meta / f"{_check_key(key)}.json"

    def _atomic_write(self, dest: Path, write: Any) -> None:
        self._tmp.mkdir(parents=True, exist_ok=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="up-")
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, dest)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> StoredObject:
        dest = self._path(key)
        digest = hashlib.sha256()
        size = 0

        def copy(fh: Any) -> None:
            nonlocal size
            with open(path, "rb") as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    fh.write(chunk)

        # The data first, under a temporary name; the checksum is known only after the copy, and the
        # object becomes visible only once both exist.
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="obj-")
        try:
            with os.fdopen(fd, "wb") as fh:
                copy(fh)
                fh.flush()
                os.fsync(fh.fileno())
            sha = digest.hexdigest()
            meta = {"sha256": sha, "size": size, "content_type": content_type}
            self._atomic_write(self._meta_path(key), lambda fh: fh.write(json.dumps(meta).encode()))
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, dest)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StoredObject(key=key, sha256=sha, size=size)

    def stat(self, key: str) -> StoredObject | None:
        path, meta_path = self._path(key), self._meta_path(key)
        if not path.is_file() or not meta_path.is_file():
            return None
        meta = json.loads(meta_path.read_text())
        return StoredObject(key=key, sha256=meta["sha256"], size=int(meta["size"]))

    def get_file(self, key: str, dest: Path, expected_sha256: str | None = None) -> Path:
        info = self.stat(key)
        if info is None:
            raise FileNotFoundError(f"object {key!r} is not in {self!r}")
        expected = expected_sha256 or info.sha256
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        os.close(fd)
        shutil.copyfile(self._path(key), tmp_name)
        return _verified_move(Path(tmp_name), dest, key, expected)

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def list(self, prefix: str = "") -> list[str]:
        keys = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            if Path(dirpath) == self.root:
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root)
            for name in filenames:
                key = (rel / name).as_posix() if rel != Path(".") else name
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
        self._meta_path(key).unlink(missing_ok=True)

    def presigned_url(self, key: str, expires_s: int = 3600) -> str:
        # A local folder has no server to sign for: the file URI is the download link.
        if not self.exists(key):
            raise FileNotFoundError(f"object {key!r} is not in {self!r}")
        return self._path(key).as_uri()


class S3Store:
    """Objects in one S3 bucket through the `minio` SDK (keyword arguments throughout)."""

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = False,
        region: str | None = None,
    ) -> None:
        from minio import Minio

        self.endpoint = endpoint
        self.bucket = bucket
        self.secure = secure
        self._client = Minio(
            endpoint=endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region
        )
        self._bucket_ready = False

    def __repr__(self) -> str:
        # Never the keys: this string reaches logs.
        scheme = "https" if self.secure else "http"
        return f"S3Store({scheme}://{self.endpoint}/{self.bucket})"

    @property
    def client(self) -> Any:
        return self._client

    def ensure_bucket(self) -> None:
        from minio.error import S3Error

        if self._bucket_ready:
            return
        if not self._client.bucket_exists(bucket_name=self.bucket):
            try:
                self._client.make_bucket(bucket_name=self.bucket)
            except S3Error as exc:
                # Another worker created it between our check and our call: that is the goal anyway.
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        self._bucket_ready = True

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> StoredObject:
        _check_key(key)
        self.ensure_bucket()
        sha, size = sha256_file(path)
        # A single PUT or a completed multipart upload appears atomically; an interrupted multipart
        # upload stays invisible (a bucket lifecycle rule should abort stale ones, see infra/README.md).
        self._client.fput_object(
            bucket_name=self.bucket,
            object_name=key,
            file_path=str(path),
            content_type=content_type or "application/octet-stream",
            metadata={"sha256": sha},
            part_size=PART_SIZE,
        )
        return StoredObject(key=key, sha256=sha, size=size)

    def stat(self, key: str) -> StoredObject | None:
        from minio.error import S3Error

        _check_key(key)
        self.ensure_bucket()
        try:
            st = self._client.stat_object(bucket_name=self.bucket, object_name=key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return None
            raise
        meta = {k.lower(): v for k, v in (st.metadata or {}).items()}
        sha = meta.get("x-amz-meta-sha256", "")
        return StoredObject(key=key, sha256=sha, size=int(st.size or 0))

    def get_file(self, key: str, dest: Path, expected_sha256: str | None = None) -> Path:
        info = self.stat(key)
        if info is None:
            raise FileNotFoundError(f"object {key!r} is not in {self!r}")
        expected = expected_sha256 or info.sha256 or None
        if expected is None:
            raise IntegrityError(f"{key}: no SHA-256 recorded for this object; refusing an unverified read")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        os.close(fd)
        try:
            self._client.fget_object(bucket_name=self.bucket, object_name=key, file_path=tmp_name)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return _verified_move(Path(tmp_name), dest, key, expected)

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def list(self, prefix: str = "") -> list[str]:
        self.ensure_bucket()
        objects = self._client.list_objects(bucket_name=self.bucket, prefix=prefix or None, recursive=True)
        return sorted(o.object_name for o in objects if o.object_name is not None)

    def delete(self, key: str) -> None:
        _check_key(key)
        self.ensure_bucket()
        self._client.remove_object(bucket_name=self.bucket, object_name=key)

    def presigned_url(self, key: str, expires_s: int = 3600) -> str:
        _check_key(key)
        self.ensure_bucket()
        return self._client.presigned_get_object(
            bucket_name=self.bucket, object_name=key, expires=timedelta(seconds=expires_s)
        )


def s3_store_from_settings(settings: Settings, bucket: str | None = None) -> S3Store:
    return S3Store(
        endpoint=settings.store.s3_endpoint,
        access_key=settings.store.s3_access_key.get_secret_value(),
        secret_key=settings.store.s3_secret_key.get_secret_value(),
        bucket=bucket or settings.store.s3_bucket,
        secure=settings.store.s3_secure,
        region=settings.store.s3_region,
    )


def make_store(settings: Settings) -> ObjectStore:
    if settings.store.object_store == "s3":
        return s3_store_from_settings(settings)
    return LocalStore(settings.store.resolved_store_dir)

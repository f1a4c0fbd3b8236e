"""Getting a registered video's bytes onto local disk, from a local path or an S3 object."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from emsync_models.errors import InputError
from flows.storage.store import s3_store_from_settings, sha256_file

if TYPE_CHECKING:
    from flows.settings import Settings


@dataclass(frozen=True)
class Source:
    """Where a row's bytes live: a checked local file, or an object in an S3 bucket."""

    uri: str  # the canonical spelling stored in the database
    local_path: str | None = None
    bucket: str | None = None
    key: str | None = None


def parse_source_uri(uri: str) -> Source:
    """The inverse of the canonical spelling `resolve_source` stores."""
    if uri.startswith("s3://"):
        bucket, _, key = uri[5:].partition("/")
        return Source(uri=uri, bucket=bucket, key=key)
    return Source(uri=uri, local_path=uri)


def materialize(
    settings: Settings, uri: str, expected_sha256: str | None = None, refresh: bool = False
) -> tuple[Path, str]:
    """A local file holding the bytes of `uri`, and their SHA-256.

    S3 objects are downloaded into the cache (by URI) once; `refresh` fetches them again. With
    `expected_sha256`, content that changed since registration is bad input: the rows describe other bytes.
    """
    source = parse_source_uri(uri)
    if source.local_path is not None:
        path = Path(source.local_path)
        if not path.is_file():
            raise InputError(uri, "no such file (moved or deleted since it was registered)")
    else:
        from minio.error import S3Error

        assert source.bucket is not None and source.key is not None
        cache = settings.store.cache_dir / "sources"
        cache.mkdir(parents=True, exist_ok=True)
        suffix = Path(source.key).suffix[:8]
        path = cache / f"{hashlib.sha256(uri.encode()).hexdigest()}{suffix}"
        if refresh or not path.is_file():
            store = s3_store_from_settings(settings, bucket=source.bucket)
            fd, tmp = tempfile.mkstemp(dir=cache, prefix=".dl-")
            os.close(fd)
            try:
                store.client.fget_object(bucket_name=source.bucket, object_name=source.key, file_path=tmp)
                os.replace(tmp, path)
            except S3Error as exc:
                Path(tmp).unlink(missing_ok=True)
                if exc.code in ("NoSuchKey", "NoSuchBucket", "AccessDenied"):
                    raise InputError(uri, f"cannot read the object ({exc.code})") from None
                raise
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    digest, _ = sha256_file(path)
    if expected_sha256 is not None and digest != expected_sha256:
        raise InputError(uri, "content changed since it was registered (SHA-256 differs); re-ingest it")
    return path, digest

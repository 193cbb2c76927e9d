"""Where finished WARCs and indexes live: a small interface, one backend per URI scheme.

Names are relative keys such as ``warcs/NAME.warc.gz`` or ``indexes/NAME.cdxj``; a
backend maps them to a folder or to ``s3://bucket/prefix/``. Nothing outside a backend
knows how a name is stored, so the writer, the index and retrieval work unchanged on
every backend.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol, runtime_checkable
from urllib.parse import urlsplit

from crawler.errors import ConfigError, NewsarchiveError


class StorageError(NewsarchiveError):
    """A storage backend could not do what was asked (one clear line for the user)."""


class StorageConfigError(StorageError, ConfigError):
    """The storage is misconfigured or unreachable before anything was written (exit 2)."""


@runtime_checkable
class ArchiveStorage(Protocol):
    """What the archive needs from a place that keeps files."""

    uri: str

    def check(self, *, write: bool = True) -> None:
        """Fail fast with StorageConfigError when the storage cannot be read (and, with ``write``,
        written): seconds, not a client's full retry schedule. Without ``write`` nothing is created."""

    def put_file(self, local_path: Path, name: str) -> None:
        """Store a finished local file under ``name``, durably, replacing any older copy.

        The local file may be moved (local backend) or left in place (remote backends).
        """

    def put_bytes(self, data: bytes, name: str) -> None:
        """Store small content (an index) under ``name``."""

    def open_range(self, name: str, offset: int, length: int) -> bytes:
        """Return exactly ``length`` bytes of ``name`` from ``offset``: one read."""

    def open_stream(self, name: str) -> BinaryIO:
        """A readable binary stream over the whole of ``name``, not loaded in memory."""

    def list(self, prefix: str = "") -> Iterator[str]:
        """Names under ``prefix``, sorted."""

    def exists(self, name: str) -> bool: ...

    def size(self, name: str) -> int: ...

    def delete(self, name: str) -> None: ...

    def local_path(self, name: str) -> Path | None:
        """The file on local disk behind ``name``, if there is one (for pywb and tools)."""


def _local_factory(uri: str, **_options: object) -> ArchiveStorage:
    from crawler.archive.storage.local import LocalStorage

    return LocalStorage.from_uri(uri)


def _s3_factory(uri: str, **options: object) -> ArchiveStorage:
    from crawler.archive.storage.s3 import S3Storage

    return S3Storage.from_uri(uri, **options)


#: URI scheme -> factory. A bare path is a local folder.
STORAGE_BACKENDS = {
    "": _local_factory,
    "file": _local_factory,
    "s3": _s3_factory,
}


def open_storage(uri: str | os.PathLike[str], **options: object) -> ArchiveStorage:
    """Build the backend for an archive URI: ``./archive``, ``file:///x``, ``s3://bucket/prefix``.

    ``options`` go to remote backends (S3: endpoint_url, access_key, secret_key, region, ...)."""
    uri = os.fspath(uri)
    scheme = urlsplit(uri).scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter, not a scheme
        scheme = ""
    try:
        factory = STORAGE_BACKENDS[scheme]
    except KeyError:
        raise StorageConfigError(
            f"unknown archive scheme {scheme!r} in {uri!r}: expected a folder path or s3://bucket/prefix"
        ) from None
    return factory(uri, **options)


def is_remote(uri: str | os.PathLike[str]) -> bool:
    return urlsplit(os.fspath(uri)).scheme.lower() not in ("", "file") and len(urlsplit(os.fspath(uri)).scheme) > 1

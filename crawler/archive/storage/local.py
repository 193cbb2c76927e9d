"""A folder on local disk as archive storage (the embedded default)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO, Iterator
from urllib.parse import unquote, urlsplit

from crawler.archive.storage import StorageConfigError, StorageError


class LocalStorage:
    """Files under one root folder; ``put_file`` renames when it can, so finishing a WARC costs nothing."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self.uri = str(self.root)

    @classmethod
    def from_uri(cls, uri: str) -> LocalStorage:
        parts = urlsplit(uri)
        if parts.scheme.lower() == "file":
            return cls(Path(unquote(parts.path)))
        return cls(Path(uri))

    def _path(self, name: str) -> Path:
        # Names are made by this program, never by a crawled page; still refuse escapes.
        path = (self.root / name).resolve()
        if path != self.root.resolve() and self.root.resolve() not in path.parents:
            raise StorageError(f"refusing a storage name outside the archive: {name!r}")
        return path

    def check(self, *, write: bool = True) -> None:
        if not write:
            if not self.root.is_dir():
                raise StorageConfigError(f"archive folder {self.root} does not exist")
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-probe"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as e:
            raise StorageConfigError(f"archive folder {self.root} is not writable: {e.strerror or e}") from e

    def put_file(self, local_path: Path, name: str) -> None:
        target = self._path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        local_path = Path(local_path)
        if local_path.resolve() == target:
            return
        tmp = target.with_name(target.name + ".part")
        try:
            os.replace(local_path, tmp)
        except OSError:
            shutil.copyfile(local_path, tmp)
            _fsync_file(tmp)
            local_path.unlink()
        os.replace(tmp, target)
        _fsync_dir(target.parent)

    def put_bytes(self, data: bytes, name: str) -> None:
        target = self._path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)

    def open_range(self, name: str, offset: int, length: int) -> bytes:
        try:
            with open(self._path(name), "rb") as f:
                f.seek(offset)
                data = f.read(length)
        except FileNotFoundError:
            raise StorageError(f"{name} is not in the archive {self.root}") from None
        if len(data) != length:
            raise StorageError(f"{name}: wanted {length} bytes at offset {offset}, got {len(data)}")
        return data

    def open_stream(self, name: str) -> BinaryIO:
        try:
            return open(self._path(name), "rb")
        except FileNotFoundError:
            raise StorageError(f"{name} is not in the archive {self.root}") from None

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return iter(())
        names = []
        for dirpath, _dirnames, filenames in os.walk(base):
            for fn in filenames:
                if fn.endswith(".part"):
                    continue
                names.append(Path(dirpath, fn).relative_to(self.root).as_posix())
        return iter(sorted(names))

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def size(self, name: str) -> int:
        try:
            return self._path(name).stat().st_size
        except FileNotFoundError:
            raise StorageError(f"{name} is not in the archive {self.root}") from None

    def delete(self, name: str) -> None:
        try:
            self._path(name).unlink()
        except FileNotFoundError:
            pass

    def local_path(self, name: str) -> Path | None:
        return self._path(name)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

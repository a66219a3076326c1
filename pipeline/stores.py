"""Photos and results in object stores (``s3://``, ``gs://`` ...) as paths.

``StoredPath`` is the part of ``pathlib.Path`` that the batch layer uses (names, joining,
listing, existence, reading, writing), for any URI that pyarrow's file systems understand:
``s3://bucket/key`` (Amazon S3 and S3-compatible stores), ``gs://bucket/key`` (Google Cloud
Storage), ``hdfs://host/path``, and ``file:///path``. With it, planning, skip-if-done and
writing results work the same on a bucket as on a folder, in every engine.

Credentials come from where pyarrow looks for them: for S3 the ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` variables, ``~/.aws`` or the machine's role, and
``AWS_ENDPOINT_URL`` for an S3-compatible store; for GCS the application default
credentials. Query options in the URI (``s3://bucket/photos?region=eu-west-1``) are passed
on to pyarrow and kept for every path below it (but not shown in messages or results).

An object is written in one request and appears whole or not at all, so results are written
atomically there too. What a store cannot do is create a file only if it is absent, so two
runs on the same output prefix do not share the work by claims as they do on a folder: give
each run its own inputs (one Ray run shares its work among its workers by itself).
"""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

_URI = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<rest>.*)$")


class StoreError(OSError):
    """An object store cannot be reached or used; the message says which and why."""


def is_uri(text: str) -> bool:
    """Whether ``text`` names a location by URI (``s3://...``) rather than a local path."""
    return _URI.match(str(text)) is not None


def location(text: str) -> Path | StoredPath:
    """A local path, or a ``StoredPath`` for a URI (the command line's inputs and --out)."""
    return StoredPath.from_uri(text) if is_uri(text) else Path(text)


@cache
def _filesystem(scheme: str, query: str):
    """pyarrow's file system for a scheme and its URI options (one per process)."""
    from pyarrow import fs as pafs

    root = "file:///" if scheme == "file" else f"{scheme}://probe"
    uri = f"{root}?{query}" if query else root
    try:
        filesystem, _ = pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as error:  # ArrowInvalid is a ValueError
        raise StoreError(f"cannot use {scheme}:// locations: {error}") from None
    return filesystem


@dataclass(frozen=True)
class StoredPath:
    """A file or folder in a store: ``scheme://path`` (for S3 and GCS the path starts with
    the bucket), plus the URI's query options for pyarrow."""

    scheme: str
    path: str  # without a leading or trailing slash, except "/" for file:///
    query: str = ""

    @classmethod
    def from_uri(cls, uri: str) -> StoredPath:
        match = _URI.match(uri)
        if match is None:
            raise ValueError(f"{uri} is not a URI (scheme://path)")
        rest, _, query = match["rest"].partition("?")
        scheme = match["scheme"].lower()
        path = "/" + rest.strip("/") if scheme == "file" else rest.strip("/")
        if not path:
            raise ValueError(f"{uri} names no bucket or path")
        return cls(scheme, path, query)

    # ------------------------------------------------------------------ names

    def __str__(self) -> str:
        return f"{self.scheme}://{self.path}"

    @property
    def uri(self) -> str:
        """The full URI, with its query options (``from_uri`` reads it back)."""
        return f"{self}?{self.query}" if self.query else str(self)

    def __truediv__(self, other: str | PurePosixPath) -> StoredPath:
        joined = PurePosixPath(self.path, str(other)).as_posix()
        return StoredPath(self.scheme, joined, self.query)

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.path).suffix

    @property
    def parent(self) -> StoredPath:
        return StoredPath(self.scheme, PurePosixPath(self.path).parent.as_posix(), self.query)

    def with_name(self, name: str) -> StoredPath:
        return self.parent / name

    def resolve(self) -> StoredPath:
        return self

    def absolute(self) -> StoredPath:
        return self

    def is_relative_to(self, other) -> bool:
        if not isinstance(other, StoredPath) or other.scheme != self.scheme:
            return False
        return PurePosixPath(self.path).is_relative_to(PurePosixPath(other.path))

    def relative_to(self, other: StoredPath) -> PurePosixPath:
        return PurePosixPath(self.path).relative_to(PurePosixPath(other.path))

    # ------------------------------------------------------------------ the store

    @property
    def filesystem(self):
        return _filesystem(self.scheme, self.query)

    def _info(self):
        try:
            return self.filesystem.get_file_info(self.path)
        except OSError as error:
            raise StoreError(f"{self}: {error}") from None

    def exists(self) -> bool:
        from pyarrow.fs import FileType

        return self._info().type != FileType.NotFound

    def is_file(self) -> bool:
        from pyarrow.fs import FileType

        return self._info().type == FileType.File

    def is_dir(self) -> bool:
        from pyarrow.fs import FileType

        return self._info().type == FileType.Directory

    def is_symlink(self) -> bool:
        return False

    def stat(self) -> SimpleNamespace:
        """What ``os.stat`` gives that the batch layer reads: ``st_size``, ``st_mtime``."""
        from pyarrow.fs import FileType

        info = self._info()
        if info.type == FileType.NotFound:
            raise FileNotFoundError(f"{self}: no such object")
        mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
        return SimpleNamespace(st_size=info.size or 0, st_mtime=mtime)

    def files_below(self) -> list[StoredPath]:
        """Every file below this folder (or prefix), recursively."""
        from pyarrow.fs import FileSelector, FileType

        try:
            infos = self.filesystem.get_file_info(FileSelector(self.path, recursive=True))
        except OSError as error:
            raise StoreError(f"{self}: {error}") from None
        return [
            StoredPath(self.scheme, info.path.rstrip("/"), self.query)
            for info in infos
            if info.type == FileType.File
        ]

    def read_bytes(self) -> bytes:
        try:
            with self.filesystem.open_input_stream(self.path) as stream:
                return stream.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"{self}: no such object") from None

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def open(self, mode: str = "rb") -> io.BytesIO:
        """The whole object, in memory (photos are read whole anyway)."""
        if mode != "rb":
            raise ValueError("stored files are opened for reading only ('rb')")
        return io.BytesIO(self.read_bytes())

    def write_bytes(self, data: bytes) -> None:
        """Write the whole file at once: an object store makes it appear whole or not at all;
        on a local or network file system it is written beside and renamed."""
        filesystem = self.filesystem
        try:
            if self.scheme in ("file", "hdfs"):
                partial = f"{self.parent.path}/.{self.name}.{uuid.uuid4().hex}.tmp"
                filesystem.create_dir(self.parent.path, recursive=True)
                with filesystem.open_output_stream(partial) as stream:
                    stream.write(data)
                filesystem.move(partial, self.path)
            else:
                with filesystem.open_output_stream(self.path) as stream:
                    stream.write(data)
        except OSError as error:
            raise StoreError(f"cannot write {self}: {error}") from None

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Folders exist only as prefixes in object stores; made on file systems."""
        if self.scheme in ("file", "hdfs"):
            self.filesystem.create_dir(self.path, recursive=parents)

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.filesystem.delete_file(self.path)
        except FileNotFoundError:
            if not missing_ok:
                raise

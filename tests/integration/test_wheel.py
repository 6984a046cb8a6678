"""Installed from its wheels, Athena has every file its sandbox needs.

athena-core and the executor plugins are built as wheels and installed in a fresh
virtual environment, which then runs Python, JavaScript and bash programs that use
``athena`` under each executor, through the installed ``athena`` command: what a user
who ran ``pip install athena-core athena-bwrap`` gets, not what the checkout has.

How, fast and without a network:

- Each project is copied to a temporary directory first (its top-level files and its
  package directories, caches left out), so a build neither writes ``build/`` or
  ``*.egg-info`` into the checkout nor packs stale files left there.
- ``pip wheel --no-deps`` builds the wheels; with ``--no-build-isolation`` when this
  environment's setuptools satisfies the projects' ``build-system.requires`` (the tox
  ``integration`` env installs one), so nothing is downloaded; otherwise pip fetches
  the build backend as for any build.
- ``python -m venv --without-pip`` makes the environment, and this environment's pip
  installs the wheels into it (``pip --python VENV install --no-index --no-deps``).
- The dependencies are not downloaded either: those installed here (the closure of the
  wheels' ``Requires-Dist``, Athena's own distributions left out) are linked file by file
  into one directory that a ``.pth`` file adds to the new environment's path, after its
  own site-packages. The new environment sees the built wheels, their dependencies, and
  neither the checkout nor the Athena packages installed here.

Executors: bwrap, and srt and restrictedpython where their plugins are installed here
(their dependencies come from here too); restrictedpython runs Python only. One whose
sandbox cannot run here is skipped with the reason, or fails where CI requires it:
ATHENA_REQUIRE_SANDBOX=1 requires bwrap (with node, for JavaScript) and restrictedpython,
ATHENA_REQUIRE_SRT=1 requires srt (as in tests/invariants).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import attrs
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: Distribution name: (project directory, its package directories: a src layout's ``src``).
PROJECTS = {
    "athena-core": (ROOT, ["athena_core"]),
    "athena-bwrap": (ROOT / "athena_plugins" / "bwrap", ["src"]),
    "athena-srt": (ROOT / "athena_plugins" / "srt", ["src"]),
    "athena-restrictedpython": (ROOT / "athena_plugins" / "restrictedpython", ["src"]),
}
#: Executor name: its distribution (bwrap is built and required whatever is installed here).
EXECUTORS = {"bwrap": "athena-bwrap", "srt": "athena-srt",
             "restrictedpython": "athena-restrictedpython"}
_CACHES = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*")
_BUILD_TIMEOUT = 240

TEXT = "the wheel carries the sandbox client"
PROGRAMS = {
    "python": (f"import athena\n"
               f"athena.remember({TEXT!r}, metadata={{'via': 'python'}})\n"
               f"[hit.text for hit in athena.recall('wheel sandbox client', k=1)]\n"),
    "javascript": (f"await athena.remember({TEXT!r}, {{metadata: {{via: 'javascript'}}}});\n"
                   "const hits = await athena.recall('wheel sandbox client', {k: 1});\n"
                   "console.log(hits[0].text);\n"),
    # A shell program reaches Athena through the API tree, where the executor mounts it
    # (docs/discovery.md: srt does not yet).
    "bash": ('echo "bash $BASH_VERSION"\n'
             "if [ -d /athena/apis ]; then cat /athena/apis/recall.py; fi\n"),
}
_MOUNTS_API_TREE = {"bwrap": True, "srt": False}
CASES = [("bwrap", "python"), ("bwrap", "javascript"), ("bwrap", "bash"),
         ("srt", "python"), ("srt", "javascript"), ("srt", "bash"),
         ("restrictedpython", "python")]


def _required(executor: str) -> bool:
    if executor == "srt":
        return os.environ.get("ATHENA_REQUIRE_SRT") == "1"
    return os.environ.get("ATHENA_REQUIRE_SANDBOX") == "1"


def _installed_here(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _skip_or_fail(executor: str, reason: str) -> None:
    if _required(executor):
        pytest.fail(f"{executor}: {reason}", pytrace=False)
    pytest.skip(f"{executor}: {reason}")


# --- building and installing ------------------------------------------------------------


def _copy_project(name: str, dest: Path) -> Path:
    project, package_dirs = PROJECTS[name]
    target = dest / name
    target.mkdir(parents=True)
    for path in project.iterdir():
        if path.is_file() and not path.name.startswith("."):
            shutil.copy2(path, target / path.name)
    for directory in package_dirs:
        shutil.copytree(project / directory, target / directory, ignore=_CACHES)
    return target


def _backend_installed(projects: list[Path]) -> bool:
    """Whether this environment's packages satisfy every project's build requirements."""
    for project in projects:
        with (project / "pyproject.toml").open("rb") as fh:
            requires = tomllib.load(fh)["build-system"]["requires"]
        for text in requires:
            requirement = Requirement(text)
            try:
                version = importlib.metadata.version(requirement.name)
            except importlib.metadata.PackageNotFoundError:
                return False
            if not requirement.specifier.contains(version, prereleases=True):
                return False
    return True


@attrs.frozen
class Built:
    wheel: Path
    #: The files of its packages, as paths in the wheel, taken from the copy it was built
    #: from before the build (the checkout may change meanwhile; the build adds files).
    package_files: frozenset[str]


def _package_files(name: str, copy: Path) -> frozenset[str]:
    files = set()
    for directory in PROJECTS[name][1]:  # the copy holds no caches
        base = copy / directory if directory == "src" else copy
        files.update(path.relative_to(base).as_posix()
                     for path in (copy / directory).rglob("*") if path.is_file())
    return frozenset(files)


def _build_wheels(names: list[str], tmp: Path) -> dict[str, Built]:
    sources = {name: _copy_project(name, tmp / "src") for name in names}
    files = {name: _package_files(name, copy) for name, copy in sources.items()}
    out = tmp / "wheels"
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
               str(out)]
    if _backend_installed(list(sources.values())):
        command.append("--no-build-isolation")
    build = subprocess.run([*command, *map(str, sources.values())], capture_output=True,
                           text=True, timeout=_BUILD_TIMEOUT, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    wheels = {}
    for wheel in out.glob("*.whl"):
        name = canonicalize_name(_wheel_metadata(wheel)["Name"])
        wheels[name] = Built(wheel, files[name])
    assert sorted(wheels) == sorted(names)
    return wheels


def _wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return HeaderParser().parsestr(archive.read(name).decode())


def _dependencies(wheels: dict[str, Built]) -> list[importlib.metadata.Distribution]:
    """The installed distributions the wheels need (the wheels themselves left out)."""
    pending = [(Requirement(text), frozenset())
               for built in wheels.values()
               for text in _wheel_metadata(built.wheel).get_all("Requires-Dist") or []]
    found: dict[str, importlib.metadata.Distribution] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement, extras = pending.pop()
        if requirement.marker is not None and not any(
                requirement.marker.evaluate({"extra": extra}) for extra in extras or {""}):
            continue
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if name in wheels or key in seen:
            continue
        seen.add(key)
        try:
            dist = found.get(name) or importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{requirement.name} (needed by the wheels) is not installed here; "
                        "this test installs the wheels' dependencies from this environment",
                        pytrace=False)
        found[name] = dist
        pending += [(Requirement(text), frozenset(requirement.extras))
                    for text in dist.requires or []]
    return list(found.values())


def _link_dependencies(dists: list[importlib.metadata.Distribution], target: Path) -> None:
    for dist in dists:
        files = dist.files
        if files is None:
            pytest.fail(f"{dist.metadata['Name']} has no RECORD to link its files from",
                        pytrace=False)
        for file in files:
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue  # scripts, byte code
            link = target / file
            if link.exists() or link.is_symlink():
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(dist.locate_file(file))


def _without(wheel: Path, member: str, out: Path) -> Path:
    """A copy of ``wheel`` built as if ``member`` had been left out of its package data."""
    out.mkdir(parents=True, exist_ok=True)
    copy = out / wheel.name
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(copy, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == member:
                continue
            if info.filename.endswith(".dist-info/RECORD"):
                data = b"".join(line for line in data.splitlines(keepends=True)
                                if not line.startswith(f"{member},".encode()))
            target.writestr(info, data)
    return copy


class Installed:
    """A fresh virtual environment with Athena installed from wheels."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.venv = root / "venv"
        self.bin = self.venv / "bin"

    @classmethod
    def create(cls, root: Path, wheels: list[Path], dependencies: Path) -> Installed:
        installed = cls(root)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(installed.venv)],
                       check=True, capture_output=True)
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(installed.bin / "python"), "install",
             "--quiet", "--no-index", "--no-deps", *map(str, wheels)],
            capture_output=True, text=True, timeout=_BUILD_TIMEOUT, check=False)
        assert pip.returncode == 0, pip.stdout + pip.stderr
        site = installed.python("import sysconfig; print(sysconfig.get_paths()['purelib'])")
        (Path(site.stdout.strip()) / "athena-test-dependencies.pth").write_text(
            f"{dependencies}\n", encoding="utf-8")
        return installed

    def env(self, **extra: str) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("ATHENA_", "PYTHON", "VIRTUAL_ENV"))}
        return {**clean, "PATH": f"{self.bin}{os.pathsep}{clean.get('PATH', '')}",
                "PYTHONDONTWRITEBYTECODE": "1", "ATHENA_PLUGINS_STRICT": "true", **extra}

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(self.bin / "python"), "-c", code], capture_output=True,
                                text=True, env=self.env(), cwd=self.root, timeout=120,
                                check=False)
        assert result.returncode == 0, result.stderr
        return result

    def athena(self, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / "athena"), "--home", str(home), *args],
                              capture_output=True, text=True, env=self.env(**env),
                              cwd=self.root, timeout=180, check=False)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Built]:
    """athena-core, athena-bwrap, and the other executor plugins installed here."""
    names = ["athena-core", "athena-bwrap"] + [
        dist for executor, dist in EXECUTORS.items()
        if executor != "bwrap" and (_installed_here(dist) or _required(executor))]
    return _build_wheels(names, tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module")
def dependencies(wheels, tmp_path_factory) -> Path:
    """The wheels' dependencies, linked from this environment."""
    target = tmp_path_factory.mktemp("dependencies")
    _link_dependencies(_dependencies(wheels), target)
    return target


@pytest.fixture(scope="module")
def installed(wheels, dependencies, tmp_path_factory) -> Installed:
    return Installed.create(tmp_path_factory.mktemp("installed"),
                            [built.wheel for built in wheels.values()], dependencies)


@pytest.fixture(scope="module")
def doctor(installed, tmp_path_factory) -> dict:
    """``athena doctor --json`` in the installed environment (a fresh home)."""
    result = installed.athena(tmp_path_factory.mktemp("doctor-home"), "doctor", "--json")
    report = json.loads(result.stdout)
    report["returncode"] = result.returncode
    return report


# --- the tests ---------------------------------------------------------------------------


def test_every_file_of_each_package_is_in_its_wheel(wheels) -> None:
    """Nothing under a package directory is left out (worker.py, athena.mjs, sandbox/...)."""
    missing = {}
    for built in wheels.values():
        with zipfile.ZipFile(built.wheel) as archive:
            left_out = built.package_files - set(archive.namelist())
        if left_out:
            missing[built.wheel.name] = sorted(left_out)
    assert not missing, f"files left out of the wheels: {missing}"
    assert "athena_core/sandbox_client/athena.mjs" in wheels["athena-core"].package_files


def test_doctor_finds_the_sandbox_client_files(doctor) -> None:
    checks = {check["name"]: check for check in doctor["checks"]}
    assert checks["sandbox client"]["status"] == "ok", checks["sandbox client"]
    assert "athena.mjs" in checks["sandbox client"]["detail"]
    assert not [c for c in doctor["checks"] if c["status"] == "fail"], doctor["checks"]
    assert doctor["returncode"] == 0


def test_doctor_fails_for_a_wheel_without_athena_mjs(wheels, dependencies, tmp_path) -> None:
    """The issue as a user met it: a wheel without athena.mjs, and doctor said all was well."""
    member = "athena_core/sandbox_client/athena.mjs"
    broken = _without(wheels["athena-core"].wheel, member, tmp_path / "broken")
    installed = Installed.create(tmp_path, [broken, wheels["athena-bwrap"].wheel],
                                 dependencies)
    result = installed.athena(tmp_path / "home", "doctor")
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    failed = next(i for i, line in enumerate(lines) if line.startswith("[fail] sandbox client"))
    assert lines[failed].endswith("(JavaScript needs athena.mjs)"), lines[failed]
    assert f"/site-packages/{member}:" in lines[failed]
    assert lines[failed + 1].strip().startswith("fix: Reinstall athena-core")


@pytest.mark.parametrize(("executor", "language"), CASES,
                         ids=[f"{e}-{lang}" for e, lang in CASES])
def test_programs_use_athena_under_each_installed_executor(wheels, installed, doctor, tmp_path,
                                                           executor: str,
                                                           language: str) -> None:
    if EXECUTORS[executor] not in wheels:
        _skip_or_fail(executor, f"the {EXECUTORS[executor]} plugin is not installed here")
    checks = {check["name"]: check for check in doctor["checks"]}
    isolation = checks.get(f"isolation {executor}")
    assert isolation is not None, f"the installed {executor} executor was not discovered"
    if not isolation["isolation"]["available"]:
        _skip_or_fail(executor, f"cannot run here: {isolation['isolation']['unavailable']}")
    if language == "javascript" and shutil.which("node") is None:
        _skip_or_fail(executor, "node is not installed")

    suffix = {"python": "py", "javascript": "mjs", "bash": "sh"}[language]
    program = tmp_path / f"program.{suffix}"
    program.write_text(PROGRAMS[language], encoding="utf-8")
    ran = installed.athena(tmp_path / "home", "run", str(program), "--json",
                           ATHENA_EXECUTION_EXECUTOR=executor)
    assert ran.stdout, ran.stderr
    result = json.loads(ran.stdout)
    assert (result["status"], result["executor"]) == ("ok", executor), (
        result["error"], result["stderr"][-3000:], result["violations"])
    if language == "python":
        assert result["value"] == [TEXT]
    elif language == "javascript":
        assert result["stdout"] == f"{TEXT}\n"
    else:
        lines = result["stdout"].splitlines()
        assert lines[0].startswith("bash ")
        assert ("def recall(" in result["stdout"]) is _MOUNTS_API_TREE[executor], lines[:5]
    assert ran.returncode == 0

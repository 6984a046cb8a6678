"""Procedure packages: installed distributions whose ``athena.procedures`` entry point names
a folder of procedures, read as data, saved into git and admitted through the gate.

Each test installs real distributions: a package folder and a ``.dist-info`` (``METADATA``,
``entry_points.txt``) in a directory put on ``sys.path``, which ``importlib.metadata``
finds as it finds any installed distribution. Every package's ``__init__.py`` writes a
marker file and raises: Athena must never import it.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from athena_core import Athena
from athena_core.errors import InvalidArgumentError, ProcedurePackageError
from athena_core.procedures import Procedure
from athena_core.procedures.packages import (
    ENTRY_POINT_GROUP,
    PackageManifest,
    installed_packages,
    locate_package,
)
from tests.sandbox import require_sandbox

pytestmark = require_sandbox()

SHOUT = '''\
def run(text: str) -> str:
    """The text in capitals, with an exclamation mark."""
    return text.upper() + "!"
'''
SHOUT_TESTS = '''\
from main import run


def test_it_shouts() -> None:
    assert run("deploy now") == "DEPLOY NOW!"
'''
COUNT = '''\
def run(text: str) -> int:
    """How many words the text has."""
    return len(text.split())
'''
COUNT_TESTS = '''\
from main import run


def test_it_counts_words() -> None:
    assert run("one two  three") == 3
'''
BROKEN_TESTS = '''\
from main import run


def test_it_counts_letters() -> None:
    assert run("one two") == 6
'''
REMEMBER = '''\
import athena


def run(text: str) -> list[str]:
    """Remember the text, then recall it."""
    athena.remember(text)
    return [hit.text for hit in athena.recall(text, k=1)]
'''
REMEMBER_TESTS = '''\
from main import run


def test_it_remembers() -> None:
    assert run("the deploy key rotates monthly") == ["the deploy key rotates monthly"]
'''


def procedure(package: str, name: str, code: str, tests: str, **fields: Any
              ) -> tuple[str, str, str, str]:
    """``(folder, manifest, code, tests)`` of one procedure folder."""
    fields.setdefault("examples", [{"inputs": {"text": "hello there"}}])
    manifest = Procedure.from_code(code, id=f"{package}/{name}", source="package",
                                   description=f"{name} for the tests", **fields)
    return name, manifest.to_manifest(), code, tests


def good_procedures(package: str = "acme") -> list[tuple[str, str, str, str]]:
    return [procedure(package, "shout", SHOUT, SHOUT_TESTS),
            procedure(package, "count", COUNT, COUNT_TESTS)]


@attrs.define
class Site:
    """A directory on ``sys.path`` to install distributions into."""

    path: Path
    marker: Path
    #: Every module name a package was installed under.
    modules: set[str] = attrs.field(factory=set)

    def install(self, *, name: str = "acme", version: str = "1.0.0",
                procedures: list[tuple[str, str, str, str]] | None = None,
                module: str | None = None, distribution: str | None = None,
                entry_point: str | None = None, package_json: str | None = None) -> Path:
        """Install a procedure package (replacing an installed one of the same
        distribution); return its folder."""
        module = module or f"{name}_procedures"
        distribution = distribution or f"{name}-procedures"
        self.uninstall(distribution)
        self.modules.add(module.partition(".")[0])
        self.modules.add((entry_point or module).partition(":")[0].partition(".")[0])
        folder = self.path / module
        folder.mkdir()
        (folder / "__init__.py").write_text(
            f"open({str(self.marker)!r}, 'a').write({module!r} + '\\n')\n"
            "raise RuntimeError('a procedure package must never be imported')\n")
        (folder / "package.json").write_text(package_json if package_json is not None else (
            json.dumps({"format": 1, "name": name, "version": version,
                        "description": f"The {name} procedures."}, indent=2) + "\n"))
        for sub, manifest, code, tests in (good_procedures(name) if procedures is None
                                           else procedures):
            (folder / sub).mkdir()
            (folder / sub / "manifest.json").write_text(manifest)
            (folder / sub / "main.py").write_text(code)
            (folder / sub / "test_main.py").write_text(tests)
        info = self.path / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(
            f"[{ENTRY_POINT_GROUP}]\n{name} = {entry_point or module}\n")
        (info / "top_level.txt").write_text(module + "\n")
        importlib.invalidate_caches()
        return folder

    def uninstall(self, distribution: str) -> None:
        prefix = distribution.replace("-", "_") + "-"
        for info in self.path.glob(f"{prefix}*.dist-info"):
            for line in (info / "top_level.txt").read_text().split():
                shutil.rmtree(self.path / line, ignore_errors=True)
            shutil.rmtree(info)
        importlib.invalidate_caches()

    def imported(self) -> list[str]:
        return self.marker.read_text().split() if self.marker.exists() else []


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    path = tmp_path / "site-packages"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    installed = Site(path, tmp_path / "imported.txt")
    yield installed
    assert installed.imported() == [], "a procedure package was imported"
    assert not installed.modules & set(sys.modules)


Opener = Callable[..., Athena]


@pytest.fixture
def open_athena(athena_factory: Callable[..., Athena]) -> Opener:
    """Athena on the test's data dir, loading only the packages named (default: the
    test packages acme and beta)."""
    def open_(*packages: str) -> Athena:
        return athena_factory(procedures={"packages": list(packages or ("acme", "beta"))})
    return open_


def report(athena: Athena, name: str) -> Any:
    return next(package for package in athena.procedures.packages() if package.name == name)


def commits(athena: Athena) -> list[tuple[str, str]]:
    """(author, message) of every commit of the repository, oldest first."""
    return [(change.entry.author, change.entry.message.strip())
            for change in athena.procedures.repository.log().changes]


# --- discovery ------------------------------------------------------------------------------


def test_a_package_is_found_through_its_entry_point_and_never_imported(site: Site) -> None:
    folder = site.install()
    found = [package for package in installed_packages() if package.name == "acme"]
    assert len(found) == 1
    assert found[0].value == "acme_procedures"
    assert found[0].distribution == "acme-procedures"
    assert found[0].distribution_version == "1.0.0"
    assert locate_package(found[0].value) == folder
    assert site.imported() == [] and "acme_procedures" not in sys.modules


def test_a_package_nested_in_a_python_package_is_found_without_importing_either(
        site: Site) -> None:
    outer = site.path / "acme_outer"
    outer.mkdir()
    (outer / "__init__.py").write_text("raise RuntimeError('never imported')\n")
    folder = site.install(entry_point="acme_outer.acme_procedures")
    shutil.move(folder, outer / "acme_procedures")
    importlib.invalidate_caches()
    assert locate_package("acme_outer.acme_procedures") == outer / "acme_procedures"
    assert "acme_outer" not in sys.modules


def test_package_json_is_strict() -> None:
    good = {"format": 1, "name": "acme", "version": "1.2.0", "description": "Acme's."}
    assert PackageManifest.from_json(json.dumps(good)) == PackageManifest(
        name="acme", version="1.2.0", description="Acme's.")
    bad: list[tuple[str, str | None]] = [
        ("[1]", None), ("{", None), (json.dumps({**good, "extra": 1}), "extra"),
        (json.dumps({k: v for k, v in good.items() if k != "version"}), "version"),
        (json.dumps({**good, "format": 2}), "format"),
        (json.dumps({**good, "name": "Acme Corp"}), "name"),
        (json.dumps({**good, "version": ""}), "version"),
        (json.dumps({**good, "version": 1}), "version"),
        (json.dumps({**good, "description": " "}), "description"),
        ('{"format": 1, "format": 1, "name": "acme", "version": "1", "description": "x"}',
         "format"),
    ]
    for text, field in bad:
        with pytest.raises(ProcedurePackageError) as caught:
            PackageManifest.from_json(text, package="acme")
        assert caught.value.package == "acme"
        assert caught.value.field == field, text
        assert "package.json" in caught.value.message


# --- admission ------------------------------------------------------------------------------


def test_package_procedures_are_saved_in_one_commit_and_admitted_by_the_gate(
        site: Site, open_athena: Opener) -> None:
    site.install(procedures=[*good_procedures(),
                             procedure("acme", "miscount", COUNT, BROKEN_TESTS),
                             procedure("acme", "remember", REMEMBER, REMEMBER_TESTS,
                                       permissions=["remember", "recall"])])
    athena = open_athena()
    listed = {item["id"]: item for item in athena.procedures.list()}
    assert {id: (item["status"], item["source"]) for id, item in listed.items()} == {
        "acme/count": ("active", "package"), "acme/miscount": ("candidate", "package"),
        "acme/remember": ("active", "package"), "acme/shout": ("active", "package")}
    assert commits(athena) == [("package:acme", "acme 1.0.0")]
    acme = report(athena, "acme")
    assert (acme.version, acme.distribution, acme.distribution_version, acme.state) == (
        "1.0.0", "acme-procedures", "1.0.0", "new")
    assert {(p.id, p.status) for p in acme.procedures} == {
        ("acme/count", "active"), ("acme/miscount", "candidate"),
        ("acme/remember", "active"), ("acme/shout", "active")}
    [problem] = acme.problems
    assert (problem.package, problem.procedure) == ("acme", "acme/miscount")
    assert "tests" in problem.message and "candidate" in problem.message
    with athena.bound(scope="team:a"):
        assert athena.procedures.run("acme/remember", text="ship on fridays") == [
            "ship on fridays"]
    assert athena.procedures.run("acme/shout", text="go") == "GO!"


def test_an_unchanged_package_is_neither_saved_nor_verified_again(
        site: Site, open_athena: Opener) -> None:
    site.install()
    first = open_athena()
    before = {id: first.procedures.catalog.version(id) for id in ("acme/shout", "acme/count")}
    head = first.procedures.repository.head()
    first.close()
    again = open_athena()
    assert report(again, "acme").state == "unchanged"
    assert again.procedures.repository.head() == head
    for id, version in before.items():
        now = again.procedures.catalog.version(id)
        assert now.commit == version.commit and now.status == "active"
        assert now.validation is not None and version.validation is not None
        assert now.validation.checked_at == version.validation.checked_at  # not re-verified
    assert again.procedures.sync_packages()[0].state == "unchanged"


def test_an_upgrade_makes_a_new_version_of_each_changed_procedure(
        site: Site, open_athena: Opener) -> None:
    site.install(procedures=[*good_procedures(), procedure("acme", "old", COUNT, COUNT_TESTS)])
    first = open_athena()
    shout_v1 = first.procedures.catalog.get("acme/shout").active_commit
    count_v1 = first.procedures.catalog.get("acme/count").active_commit
    first.close()
    louder = SHOUT.replace('"!"', '"!!"')
    site.install(version="1.1.0", procedures=[
        procedure("acme", "shout", louder, SHOUT_TESTS.replace("NOW!", "NOW!!")),
        procedure("acme", "count", COUNT, COUNT_TESTS),
        procedure("acme", "new", SHOUT, SHOUT_TESTS)])
    athena = open_athena()
    assert report(athena, "acme").state == "updated"
    catalog = athena.procedures.catalog
    assert catalog.get("acme/count").active_commit == count_v1
    shout = catalog.get("acme/shout")
    assert shout.active_commit != shout_v1 and shout.status == "active"
    assert [v.message.strip() for v in catalog.versions("acme/shout")] == [
        "acme 1.1.0", "acme 1.0.0"]
    assert athena.procedures.run("acme/shout", text="go") == "GO!!"
    assert catalog.get("acme/new").status == "active"
    assert catalog.get("acme/old").status == "retired"
    assert [h.message.strip() for h in athena.procedures.repository.history("acme/old")] == [
        "acme 1.0.0"]
    assert commits(athena) == [("package:acme", "acme 1.0.0"),
                               ("package:acme", "acme 1.1.0")]


def test_a_failing_upgrade_leaves_the_active_version_running(
        site: Site, open_athena: Opener) -> None:
    site.install()
    first = open_athena()
    count_v1 = first.procedures.catalog.get("acme/count").active_commit
    first.close()
    site.install(version="1.1.0", procedures=[
        good_procedures()[0], procedure("acme", "count", COUNT, BROKEN_TESTS)])
    athena = open_athena()
    entry = athena.procedures.catalog.get("acme/count")
    assert entry.active_commit == count_v1 and entry.latest_commit != count_v1
    [problem] = report(athena, "acme").problems
    assert problem.procedure == "acme/count"
    assert athena.procedures.run("acme/count", text="a b") == 2


def test_a_removed_package_is_retired_with_its_history_kept_and_comes_back(
        site: Site, open_athena: Opener) -> None:
    site.install()
    first = open_athena()
    assert report(first, "acme").state == "new"  # the first use of procedures loads them
    first.close()
    site.uninstall("acme-procedures")
    athena = open_athena()
    assert report(athena, "acme").state == "removed"
    assert {e.id: e.status for e in athena.procedures.catalog.list()} == {
        "acme/count": "retired", "acme/shout": "retired"}
    assert athena.procedures.repository.read("acme/shout").code == SHOUT
    assert len(athena.procedures.history("acme/shout")) == 1
    athena.close()
    site.install()
    back = open_athena()
    assert report(back, "acme").state == "new"
    assert {e.id: e.status for e in back.procedures.catalog.list()} == {
        "acme/count": "active", "acme/shout": "active"}
    assert len(back.procedures.repository.log().changes) == 1  # the same commit, re-admitted


def test_a_version_someone_else_saved_is_not_retired_with_the_package(
        site: Site, open_athena: Opener) -> None:
    site.install()
    athena = open_athena()
    mine = athena.procedures.save("acme/count", "My word count.", COUNT.replace(
        "text.split()", "text.split(' ')"), COUNT_TESTS.replace("one two  three", "a b c"),
        examples=[{"inputs": {"text": "a b"}}])
    assert athena.procedures.validate("acme/count", mine["commit"])["status"] == "active"
    athena.close()
    site.uninstall("acme-procedures")
    after = open_athena()
    assert after.procedures.catalog.get("acme/count").active_commit == mine["commit"]
    assert after.procedures.catalog.get("acme/shout").status == "retired"


def test_without_a_sandbox_they_wait_as_candidates_and_are_checked_later(
        site: Site, athena_factory: Callable[..., Athena]) -> None:
    site.install()
    blocked = athena_factory(procedures={"packages": ["acme"]},
                             plugins={"block": ["bwrap", "srt"]})
    acme = report(blocked, "acme")
    assert {(p.id, p.status) for p in acme.procedures} == {
        ("acme/count", "candidate"), ("acme/shout", "candidate")}
    [problem] = acme.problems
    assert "sandbox" in problem.message and problem.procedure is None
    blocked.close()
    athena = athena_factory(procedures={"packages": ["acme"]})
    acme = report(athena, "acme")
    assert acme.state == "unchanged" and acme.problems == ()
    assert {p.status for p in acme.procedures} == {"active"}


def test_save_many_is_one_commit_and_all_or_nothing(athena: Athena) -> None:
    repository = athena.procedures.repository
    shout, count = (Procedure.from_code(code, id=f"acme/{name}", description=name)
                    for name, code in (("shout", SHOUT), ("count", COUNT)))
    first = repository.save_many([(shout, SHOUT, SHOUT_TESTS), (count, COUNT, COUNT_TESTS)],
                                author="package:acme", message="acme 1")
    assert first["acme/shout"] == first["acme/count"] == repository.head()
    louder = SHOUT.replace('"!"', '"!!"')
    second = repository.save_many([(shout, louder, SHOUT_TESTS), (count, COUNT, COUNT_TESTS)],
                                 author="package:acme", message="acme 2")
    assert second["acme/count"] == first["acme/count"] != second["acme/shout"]
    assert repository.read("acme/shout").code == louder
    assert repository.save_many([(shout, louder, SHOUT_TESTS), (count, COUNT, COUNT_TESTS)],
                               author="package:acme", message="acme 3") == second
    with pytest.raises(InvalidArgumentError):
        repository.save_many([(shout, SHOUT, SHOUT_TESTS), (count, "def run(:\n", COUNT_TESTS)],
                            author="package:acme", message="acme 4")
    assert len(repository.log().changes) == 2
    assert repository.verify() == []


# --- bad packages ---------------------------------------------------------------------------


def test_malformed_packages_are_reported_and_never_block_the_others(
        site: Site, open_athena: Opener) -> None:
    site.install(name="good")
    site.install(name="json", package_json="{not json")
    site.install(name="named", package_json=json.dumps(
        {"format": 1, "name": "other", "version": "1", "description": "x"}))
    site.install(name="manifest", procedures=[
        ("bad", '{"format": 1, "id": "manifest/bad"}', SHOUT, SHOUT_TESTS),
        *good_procedures("manifest")])
    site.install(name="space", procedures=[procedure("elsewhere", "shout", SHOUT, SHOUT_TESTS)])
    site.install(name="folder", procedures=[
        ("yell", procedure("folder", "shout", SHOUT, SHOUT_TESTS)[1], SHOUT, SHOUT_TESTS)])
    site.install(name="source", procedures=[
        ("shout", Procedure.from_code(SHOUT, id="source/shout", description="x")
         .to_manifest(), SHOUT, SHOUT_TESTS)])
    site.install(name="syntax", procedures=[
        (*procedure("syntax", "shout", SHOUT, SHOUT_TESTS)[:2], "def run(:\n", SHOUT_TESTS)])
    site.install(name="missing", procedures=[
        (*procedure("missing", "shout", SHOUT, SHOUT_TESTS)[:3], "")])
    os.remove(site.path / "missing_procedures" / "shout" / "test_main.py")
    site.install(name="attr", entry_point="attr_procedures:thing")
    site.install(name="gone", entry_point="no_such_module")
    (site.path / "plain_module.py").write_text("raise RuntimeError('never imported')\n")
    site.install(name="module", entry_point="plain_module")
    names = ["good", "json", "named", "manifest", "space", "folder", "source", "syntax",
             "missing", "attr", "gone", "module"]
    athena = open_athena(*names)
    problems = {package.name: package.problems for package in athena.procedures.packages()}
    expected = {  # package -> (procedure named, words in the message)
        "json": (None, "package.json"), "named": (None, "other"),
        "manifest": ("manifest/bad", "manifest.json"), "space": ("elsewhere/shout", "namespace"),
        "folder": ("folder/shout", "folder"), "source": ("source/shout", "source"),
        "syntax": ("syntax/shout", "main.py"), "missing": ("missing/shout", "test_main.py"),
        "attr": (None, "attr_procedures:thing"), "gone": (None, "no_such_module"),
        "module": (None, "plain_module")}
    for name, (procedure_id, words) in expected.items():
        [problem] = problems[name]
        assert (problem.package, problem.procedure) == (name, procedure_id), problem
        assert words in problem.message, problem.message
        assert report(athena, name).state == "refused"
    assert problems["good"] == ()
    # Nothing of a refused package reached git; the good one is whole and admitted.
    assert athena.procedures.repository.list() == ["good/count", "good/shout"]
    assert commits(athena) == [("package:good", "good 1.0.0")]
    assert athena.procedures.run("good/shout", text="ok") == "OK!"
    assert "plain_module" not in sys.modules


def test_a_malformed_upgrade_keeps_the_previous_version(
        site: Site, open_athena: Opener) -> None:
    site.install()
    first = open_athena()
    head = first.procedures.repository.head()
    first.close()
    site.install(version="2.0.0", package_json="[]")
    athena = open_athena()
    assert report(athena, "acme").state == "refused"
    assert athena.procedures.repository.head() == head
    assert {e.status for e in athena.procedures.catalog.list()} == {"active"}


def test_two_distributions_with_one_package_name_are_both_reported(
        site: Site, open_athena: Opener) -> None:
    site.install()
    site.install(distribution="acme-copy", module="acme_copy")
    athena = open_athena()
    packages = [package for package in athena.procedures.packages() if package.name == "acme"]
    assert {p.state for p in packages} == {"refused"}
    assert all("acme-copy" in p.problems[0].message and "acme-procedures"
               in p.problems[0].message for p in packages)
    assert athena.procedures.repository.head() is None


# --- configuration and the command line -----------------------------------------------------


def test_configuration_chooses_the_packages(
        site: Site, athena_factory: Callable[..., Athena]) -> None:
    site.install()
    site.install(name="beta")
    none = athena_factory(procedures={"packages": []})
    assert none.procedures.catalog.list() == []
    assert {(p.name, p.state) for p in none.procedures.packages()} == {
        ("acme", "not selected"), ("beta", "not selected")}
    none.close()
    both = athena_factory(procedures={"packages": ["acme", "beta", "gamma"]})
    assert {e.id.split("/")[0] for e in both.procedures.catalog.list()} == {"acme", "beta"}
    [gamma] = [p for p in both.procedures.packages() if p.name == "gamma"]
    assert gamma.state == "not installed"
    assert "acme" in gamma.problems[0].message  # it lists what is installed
    both.close()
    one = athena_factory(procedures={"packages": ["acme"]})
    assert report(one, "beta").state == "removed"
    assert one.procedures.catalog.get("beta/shout").status == "retired"
    assert one.procedures.catalog.get("acme/shout").status == "active"


def test_the_packages_command(site: Site, data_dir: Path) -> None:
    site.install()
    data_dir.mkdir(parents=True)
    (data_dir / "athena.toml").write_text(
        '[procedures]\npackages = ["acme"]\n[retrieval]\nembedder = "hashing"\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site.path), *sys.path])}
    athena = [sys.executable, "-m", "athena_core.cli", "--home", str(data_dir)]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*athena, *args], capture_output=True, text=True, env=env,
                              check=False, timeout=600)

    shown = cli("procedures", "packages", "--json")
    assert shown.returncode == 0, shown.stderr
    [acme] = json.loads(shown.stdout)
    assert (acme["name"], acme["version"], acme["distribution"], acme["state"]) == (
        "acme", "1.0.0", "acme-procedures", "new")
    assert {p["id"]: p["status"] for p in acme["procedures"]} == {
        "acme/count": "active", "acme/shout": "active"}
    text = cli("procedures", "packages")
    assert text.returncode == 0, text.stderr
    assert "acme 1.0.0" in text.stdout and "acme-procedures" in text.stdout
    assert "acme/shout" in text.stdout and "unchanged" in text.stdout
    assert "acme/shout  active  (package)" in cli("procedures", "list").stdout
    listed = cli("procedures", "list", "--json")
    assert {(p["id"], p["source"]) for p in json.loads(listed.stdout)} == {
        ("acme/count", "package"), ("acme/shout", "package")}
    assert not site.imported()

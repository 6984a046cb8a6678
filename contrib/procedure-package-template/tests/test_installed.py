"""The installed template package is found, admitted and runs, as a third party's would.

Entry points exist only in installed metadata, so these tests run against the package as
pip installed it: ``pip install ./contrib/procedure-package-template[test]`` (with the
athena-bwrap plugin, for the sandbox), then ``pytest contrib/procedure-package-template/tests``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from athena_core import Athena
from athena_core.config import Config
from athena_core.procedures.packages import installed_packages, read_package

NAME = "template"
MODULE = "athena_procedures_template"


@pytest.fixture(scope="module")
def athena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Athena]:
    config = Config.from_mapping(
        {"procedures": {"packages": [NAME]}, "retrieval": {"embedder": "hashing"},
         "plugins": {"strict": True}}, data_dir=tmp_path_factory.mktemp("home"), env={})
    with Athena.open(config=config) as opened:
        yield opened


def test_the_entry_point_names_the_package_folder() -> None:
    [installed] = [item for item in installed_packages() if item.name == NAME]
    assert (installed.value, installed.distribution) == (MODULE, "athena-procedures-template")
    package = read_package(installed)
    assert package.manifest.name == NAME
    assert sorted(item.procedure.id for item in package.procedures) == [
        "template/decision-log", "template/top-words"]
    assert (package.path / "package.json").is_file()
    assert MODULE not in sys.modules  # read as data, never imported


def test_the_gate_admits_every_procedure(athena: Athena) -> None:
    [report] = [item for item in athena.procedures.packages() if item.name == NAME]
    assert report.state == "new", [problem.message for problem in report.problems]
    assert report.problems == ()
    assert {item.id: item.status for item in report.procedures} == {
        "template/decision-log": "active", "template/top-words": "active"}
    shown = athena.procedures.show("template/top-words")
    assert shown["source"] == "package" and shown["validation"]["checks"]
    [version] = athena.procedures.history("template/top-words")
    assert (version["author"], version["message"].strip()) == (
        "package:template", f"template {report.version}")


def test_a_procedure_runs_in_the_sandbox(athena: Athena) -> None:
    text = "Warm the cache before deploys; a cold cache fails deploys. Cache!"
    assert athena.procedures.run("template/top-words", text=text, k=2) == ["cache", "deploys"]
    with athena.bound(scope="team:web"):
        first = athena.procedures.run("template/decision-log", subject="releases",
                                      decision="release on tuesdays", why="mondays are busy")
        second = athena.procedures.run("template/decision-log", subject="releases",
                                       decision="release on wednesdays", why="tuesdays too")
    assert first["earlier"] == []
    assert second["earlier"] == [
        "Decision on releases: release on tuesdays (because mondays are busy)"]
    # Remembered in the caller's scope, and only there.
    assert {hit.id for hit in athena.recall("release", k=5, scope="team:web")} == {
        first["id"], second["id"]}
    assert athena.recall("release", k=5) == []
    assert MODULE not in sys.modules


def test_each_folder_holds_exactly_a_procedure() -> None:
    [installed] = [item for item in installed_packages() if item.name == NAME]
    package = read_package(installed)
    for item in package.procedures:
        folder = Path(package.path, item.procedure.name)
        assert {path.name for path in folder.iterdir() if path.suffix in (".json", ".py")} \
            == {"manifest.json", "main.py", "test_main.py"}

"""Every procedure of the installed ``std`` package is admitted by Athena's gate.

Runs against the package as installed (its entry point exists only in installed
metadata): Athena finds it through the ``athena.procedures`` entry point, saves each
procedure folder into a fresh store and runs the gate on it - static checks, its tests in
the sandbox, a dry run of its examples. One test per procedure folder, so a failure names
the procedure and says which check failed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from athena_core import Athena
from athena_core.config import Config
from athena_core.procedures.packages import (
    PackageReport,
    ProcedurePackage,
    installed_packages,
    read_package,
)

NAME = "std"


def _package() -> ProcedurePackage:
    found = [item for item in installed_packages() if item.name == NAME]
    if len(found) != 1:
        raise pytest.UsageError(
            f"{len(found)} installed distributions provide the procedure package {NAME!r}; "
            "install exactly one: pip install ./procedures/athena-procedures-std")
    return read_package(found[0])


PACKAGE = _package()
IDS = [item.procedure.id for item in PACKAGE.procedures]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageReport]:
    home = tmp_path_factory.mktemp("std")
    config = Config.from_mapping(
        {"procedures": {"packages": [NAME]}, "retrieval": {"embedder": "hashing"},
         "plugins": {"strict": True}}, data_dir=home, env={})
    with Athena.open(config=config) as athena:
        [found] = [item for item in athena.procedures.packages() if item.name == NAME]
        yield found
    assert f"{PACKAGE.installed.value}" not in sys.modules, "the package was imported"


def test_the_package_is_new_and_whole(report: PackageReport) -> None:
    assert report.state == "new", [problem.message for problem in report.problems]
    assert report.version == PACKAGE.manifest.version
    assert sorted(item.id for item in report.procedures) == sorted(IDS)


@pytest.mark.parametrize("procedure_id", IDS)
def test_the_gate_admits(report: PackageReport, procedure_id: str) -> None:
    problems = [problem.message for problem in report.problems
                if problem.procedure in (procedure_id, None)]
    [status] = [item.status for item in report.procedures if item.id == procedure_id]
    assert status == "active", problems


def test_each_folder_is_named_after_its_procedure() -> None:
    for item in PACKAGE.procedures:
        folder = PACKAGE.path / item.procedure.name
        assert (folder / "manifest.json").is_file(), folder
        assert Path(folder / "main.py").read_text(encoding="utf-8") == item.code

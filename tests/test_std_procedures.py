"""The standard procedure package: every procedure in it passes the gate.

Each folder of ``procedures/athena-procedures-std/src/athena_procedures_std/`` is one
procedure (``manifest.json``, ``main.py``, ``test_main.py``). Here each is read as data
(never imported), saved into a catalog in a temporary data dir and admitted through the
gate with the bubblewrap sandbox: static checks, its tests in a scratch scope, and a dry run
of its examples must all pass. The other tests check what the gate does not: the manifest
is canonical and names its folder, the permissions are exactly the operations the files
call, and docs/procedures.md lists every procedure.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from athena_core import Athena
from athena_core.procedures import Procedure, ProcedureCatalog, ProcedureRepository, admit
from tests.conftest import _empty_database, make_config
from tests.sandbox import require_sandbox

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "procedures" / "athena-procedures-std" / "src" / "athena_procedures_std"
FOLDERS = sorted(path for path in PACKAGE.iterdir() if (path / "manifest.json").is_file())
DOCS = ROOT / "docs" / "procedures.md"


def read(folder: Path) -> tuple[Procedure, str, str]:
    """The procedure of ``folder``: its manifest, code and tests, read as text."""
    procedure = Procedure.from_manifest((folder / "manifest.json").read_text(encoding="utf-8"))
    return (procedure, (folder / "main.py").read_text(encoding="utf-8"),
            (folder / "test_main.py").read_text(encoding="utf-8"))


def called_operations(source: str, operations: set[str]) -> set[str]:
    """The registered operations that ``source`` names through ``import athena``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        parts: list[str] = []
        expr: ast.expr = node if isinstance(node, ast.Attribute) else ast.Constant(None)
        while isinstance(expr, ast.Attribute):
            parts.insert(0, expr.attr)
            expr = expr.value
        if isinstance(expr, ast.Name) and expr.id == "athena":
            name = ".".join(parts)
            if name in operations:
                found.add(name)
    return found


@pytest.fixture(scope="module")
def athena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Athena]:
    _empty_database()
    with Athena.open(config=make_config(tmp_path_factory.mktemp("std"))) as opened:
        yield opened


@pytest.fixture(scope="module")
def repository(athena: Athena) -> ProcedureRepository:
    return athena.procedures.repository


@pytest.fixture(scope="module")
def catalog(athena: Athena) -> ProcedureCatalog:
    return athena.procedures.catalog


def test_the_package_has_at_least_25_procedures() -> None:
    assert len(FOLDERS) >= 25, [folder.name for folder in FOLDERS]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_each_manifest_is_canonical_and_names_its_folder(folder: Path) -> None:
    procedure, _code, _tests = read(folder)
    assert procedure.id == f"std/{folder.name}"
    assert procedure.source == "package"
    assert procedure.tags and procedure.examples and procedure.permissions
    assert (folder / "manifest.json").read_text(encoding="utf-8") == procedure.to_manifest()


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_each_procedure_declares_exactly_the_operations_its_files_call(
        folder: Path, athena: Athena) -> None:
    procedure, code, tests = read(folder)
    operations = set(athena.api.names())
    assert called_operations(code, operations) == set(procedure.permissions)
    assert (called_operations(tests, operations) - set(procedure.permissions)
            == set(procedure.test_permissions))
    assert called_operations(code, operations), "main.py calls no Athena operation"


def test_the_docs_list_every_procedure_once() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text.partition("## The standard package")[2].partition("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `std/")]
    assert sorted(row.split("`")[1] for row in rows) == [f"std/{f.name}" for f in FOLDERS]


@require_sandbox()
@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_each_procedure_passes_the_gate(folder: Path, athena: Athena,
                                        catalog: ProcedureCatalog,
                                        repository: ProcedureRepository) -> None:
    procedure, code, tests = read(folder)
    version = catalog.save(procedure, code, tests, author="std", message="standard package")
    record = admit(athena, catalog, repository, procedure.id, version.commit)
    assert record.validation is not None
    failed = [f"{check.name}: {check.detail}" for check in record.validation.checks
              if not check.passed]
    assert record.status == "active" and not failed, failed
    assert record.validation.tests and all(test.passed for test in record.validation.tests)


@require_sandbox()
def test_a_procedure_whose_test_fails_is_not_admitted(
        athena: Athena, catalog: ProcedureCatalog, repository: ProcedureRepository) -> None:
    """The gate run above would notice a broken procedure: the first one, with one test
    that fails, stays a candidate with its tests stage failed."""
    procedure, code, tests = read(FOLDERS[0])
    broken = Procedure.from_manifest(json.dumps({
        **json.loads(procedure.to_manifest()), "id": "broken/" + FOLDERS[0].name}))
    tests += "\n\ndef test_that_fails() -> None:\n    assert run is None\n"
    version = catalog.save(broken, code, tests, author="std", message="a failing test")
    record = admit(athena, catalog, repository, broken.id, version.commit)
    assert record.status == "candidate"
    assert record.validation is not None and record.validation.failed_stages == ("tests",)
    assert [test.name for test in record.validation.tests if not test.passed] == [
        "test_that_fails"]

"""Agent Skills folders: export is strict and lossless, import is lenient and says what it did.

``tests/data/skills/`` holds skill folders written for these tests, one per variation seen
in published skills; ``tests/data/skills-refused/`` the three kinds import refuses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from athena_core.errors import InvalidArgumentError, SkillExportError, SkillFormatError
from athena_core.procedures import (
    MAX_DESCRIPTION_CHARS,
    ImportedSkill,
    Procedure,
    ProcedureRepository,
    Revision,
)
from athena_core.procedures.frontmatter import read_front_matter, write_front_matter
from athena_core.procedures.skills import (
    export_skill,
    import_skill,
    normalise_skill_name,
    skill_problems,
)

DATA = Path(__file__).parent / "data"
SKILLS = DATA / "skills"
REFUSED = DATA / "skills-refused"

CODE = '''\
from typing import Literal


def run(topic: str, days: int = 7, mode: Literal["short", "long"] = "short") -> list[str]:
    """The notes about a topic."""
    return [f"{topic}: {mode}, {days} days"]
'''
TESTS = '''\
from main import run


def test_run() -> None:
    assert run("deploys", 2) == ["deploys: short, 2 days"]
'''


def revision(**fields: Any) -> Revision:
    values: dict[str, Any] = {"id": "notes/recent",
                              "description": "List recent notes on a topic; use before work."}
    values.update(fields)
    return Revision(commit="0123456789abcdef0123456789abcdef01234567", author="alice",
                    message="first", created_at="2026-01-02T03:04:05Z",
                    procedure=Procedure.from_code(CODE, **values), code=CODE, tests=TESTS)


# --- export, then import ----------------------------------------------------------------------

RICH = {
    "description": 'Sum up a topic: "what changed", what\'s next.\n\tÉtat — 進捗 #1 | > [x] {y}',
    "permissions": ["semantic.recall", "episodic.timeline"],
    "tags": ["notes", "a: b", "# not a comment", "- not a list", "ü"],
    "source": "learned",
    "derived_from": ["exec-1", "episode 2"],
    "supersedes": "notes/old-recent",
    "examples": [{"inputs": {"topic": "deploys"}, "expected": ["deploys: nothing"]},
                 {"inputs": {"topic": "ops", "days": 3}}],
}


@pytest.mark.parametrize("fields", [{}, RICH], ids=["defaults", "every-field"])
def test_export_then_import_gives_back_an_equal_procedure_code_and_tests(
        tmp_path: Path, fields: dict[str, Any]) -> None:
    original = revision(**fields)
    folder = export_skill(original, tmp_path)
    assert folder == tmp_path / "notes-recent"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) \
        == ["SKILL.md", "scripts/main.py", "scripts/test_main.py"]
    imported = import_skill(folder)
    assert imported.procedure == original.procedure
    assert (imported.code, imported.tests) == (CODE, TESTS)
    assert imported.warnings == ()
    assert imported.commit == original.commit
    assert imported.files == ()
    front = imported.front_matter
    assert front["name"] == "notes-recent"
    assert front["description"] == original.procedure.description
    metadata = front["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["athena-id"] == "notes/recent"
    assert json.loads(str(metadata["athena-input-schema"])) == original.procedure.input_schema
    assert skill_problems(front, folder.name) == []


def test_a_stored_version_exports_and_reimports_into_the_repository_unchanged(
        tmp_path: Path) -> None:
    with ProcedureRepository.open(tmp_path / "procedures.git") as repository:
        first = revision(**RICH)
        commit = repository.save(first.procedure, first.code, first.tests, author="alice",
                                 message="first")
        stored = repository.read("notes/recent")
        imported = import_skill(export_skill(stored, tmp_path / "out"))
        # the same content again makes no commit: nothing was lost or changed on the way
        again = repository.save(imported.procedure, imported.code, imported.tests,
                                author="bob", message="re-imported")
        assert again == commit == imported.commit
        assert len(repository.history("notes/recent")) == 1


def test_the_exported_skill_runs_and_its_tests_pass_as_its_body_says(tmp_path: Path) -> None:
    folder = export_skill(revision(), tmp_path)
    body = (folder / "SKILL.md").read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(.*?)\n```", body, re.S)
    assert len(commands) == 2
    # "python" is this interpreter, as in the environment a skill runs in
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                 f"{os.environ.get('PATH', os.defpath)}"}
    ran = subprocess.run(["bash", "-c", commands[0]], cwd=folder, capture_output=True,
                         text=True, check=False, env=env)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == ["text: short, 7 days"]
    tested = subprocess.run(["bash", "-c", commands[1]], cwd=folder, capture_output=True,
                            text=True, check=False, env=env)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "1 passed" in tested.stdout


def test_export_names_the_skill_after_the_whole_id_or_as_asked(tmp_path: Path) -> None:
    assert export_skill(revision(), tmp_path, name="recent").name == "recent"
    imported = import_skill(tmp_path / "recent")
    assert imported.procedure.id == "notes/recent"
    assert imported.warnings == ()
    assert read_front_matter((tmp_path / "recent" / "SKILL.md").read_text(encoding="utf-8"),
                             path="SKILL.md").values["name"] == "recent"


@pytest.mark.parametrize(("id", "name", "message"), [
    (f"{'n' * 40}/{'m' * 40}", None, "is not 1-64 lower-case"),
    ("notes/recent", "Recent_Notes", "is not 1-64 lower-case"),
    ("notes/recent", "", "name is missing"),
    ("notes/recent", "a--b", "is not 1-64 lower-case"),
])
def test_export_refuses_a_skill_name_the_specification_forbids(
        tmp_path: Path, id: str, name: str | None, message: str) -> None:
    with pytest.raises(SkillExportError, match=message) as caught:
        export_skill(revision(id=id), tmp_path, name=name)
    assert caught.value.argument == "name"
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_an_existing_folder_and_leaves_it_alone(tmp_path: Path) -> None:
    (tmp_path / "notes-recent").mkdir()
    (tmp_path / "notes-recent" / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SkillExportError, match="already exists"):
        export_skill(revision(), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes-recent"]
    assert [p.name for p in (tmp_path / "notes-recent").iterdir()] == ["keep.txt"]


def test_export_refuses_what_is_not_a_revision(tmp_path: Path) -> None:
    with pytest.raises(SkillExportError, match="must be a Revision"):
        export_skill(revision().procedure, tmp_path)  # type: ignore[arg-type]


def test_the_rules_export_enforces_are_those_of_the_specification() -> None:
    good = {"name": "notes-recent", "description": "x" * MAX_DESCRIPTION_CHARS,
            "license": "MIT", "compatibility": "Python 3.11", "metadata": {"a": "b"},
            "allowed-tools": "Bash Read"}
    assert skill_problems(good, "notes-recent") == []
    bad = {"name": "Notes", "description": "x" * (MAX_DESCRIPTION_CHARS + 1),
           "compatibility": "c" * 501, "metadata": {"a": ["b"]}, "allowed-tools": ["Bash"],
           "license": ["MIT"], "version": "1"}
    assert [key for key, _ in skill_problems(bad, "notes")] == [
        "name", "folder", "description", "compatibility", "metadata", "allowed-tools",
        "license", "version"]
    assert [key for key, _ in skill_problems({"description": " "}, "x")] == [
        "name", "description"]


@pytest.mark.parametrize(("text", "name"), [
    ("PDF Tools", "pdf-tools"), ("my_skill__v2", "my-skill-v2"), ("-a-", "a"),
    ("x" * 70, "x" * 64), ("!!!", ""), ("ok-name", "ok-name")])
def test_names_are_normalised_to_the_rules(text: str, name: str) -> None:
    assert normalise_skill_name(text) == name


# --- importing skills written elsewhere -----------------------------------------------------

NO_TESTS = "it has no tests"
NO_CODE = "there is no scripts/main.py"
#: Each test skill folder: the procedure name it imports as, and its warnings, in order
#: (a fragment of each).
EXPECTED: dict[str, tuple[str, list[str]]] = {
    "plain-minimal": ("plain-minimal", [NO_CODE, NO_TESTS]),
    "folded-description": ("folded-description", [NO_CODE, NO_TESTS]),
    "literal-description": ("literal-description", [NO_CODE, NO_TESTS]),
    "quoted-colons": ("quoted-colons", [NO_CODE, NO_TESTS]),
    "unquoted-colon": ("unquoted-colon", ["line 3: a plain (unquoted) value holds ': '",
                                          NO_CODE, NO_TESTS]),
    "metadata-map": ("metadata-map", [NO_CODE, NO_TESTS]),
    "allowed-tools-string": ("allowed-tools-string", [NO_CODE, NO_TESTS]),
    "allowed-tools-list": ("allowed-tools-list", [
        "allowed-tools is not a space-separated string", NO_CODE, NO_TESTS]),
    "bash-scripts": ("bash-scripts", [
        NO_CODE, NO_TESTS,
        "scripts/compress.bash (bash), scripts/rotate.sh (bash) in scripts/ are not the "
        "procedure's code"]),
    "node-scripts": ("node-scripts", [
        NO_CODE, NO_TESTS,
        "scripts/build.js (JavaScript), scripts/check-links.mjs (JavaScript) in scripts/"]),
    "python-cli-script": ("python-cli-script", [
        NO_CODE, NO_TESTS, "scripts/convert.py (Python) in scripts/"]),
    "references-and-assets": ("references-and-assets", [
        NO_CODE, NO_TESTS,
        "LICENSE.txt, assets/postmortem-template.md, references/style.md are not stored"]),
    "name-mismatch": ("some-other-name", [
        "the name 'some-other-name' is not the folder's name 'name-mismatch'", NO_CODE,
        NO_TESTS]),
    "upper-case-name": ("upper-case-name", [
        "the name 'Upper_Case_Name' is not 1-64 lower-case letters, digits and single "
        "hyphens; it was normalised to 'upper-case-name'", NO_CODE, NO_TESTS]),
    "missing-name": ("missing-name", [
        "name is missing; the folder's name 'missing-name' is used", NO_CODE, NO_TESTS]),
    "too-long-description": ("too-long-description", [
        "description has 1489 characters, more than 1024; it was cut to 1024 characters",
        NO_CODE, NO_TESTS]),
    "unknown-keys": ("unknown-keys", [
        "the key 'version' is not in the specification", "the key 'user-invocable' is not",
        "the key 'triggers' is not", NO_CODE, NO_TESTS]),
    "multiline-quoted": ("multiline-quoted", [NO_CODE, NO_TESTS]),
    "comments-and-flow": ("comments-and-flow", [NO_CODE, NO_TESTS]),
    "windows-line-endings": ("windows-line-endings", [NO_CODE, NO_TESTS]),
    "byte-order-mark": ("byte-order-mark", [NO_CODE, NO_TESTS]),
    "python-entry": ("python-entry", []),
}


def test_every_test_skill_folder_has_its_expectations() -> None:
    folders = sorted(p.name for p in SKILLS.iterdir() if p.is_dir())
    assert folders == sorted(EXPECTED)
    assert len(folders) >= 15


@pytest.mark.parametrize("folder", sorted(EXPECTED))
def test_each_test_skill_imports_with_the_expected_warnings_and_can_be_stored(
        folder: str, tmp_path: Path) -> None:
    name, fragments = EXPECTED[folder]
    imported = import_skill(SKILLS / folder)
    assert imported.procedure.id == f"skills/{name}"
    assert imported.procedure.source == "user"
    assert len(imported.warnings) == len(fragments), imported.warnings
    for warning, fragment in zip(imported.warnings, fragments, strict=True):
        assert fragment in warning
    assert len(imported.procedure.description) <= MAX_DESCRIPTION_CHARS
    with ProcedureRepository.open(tmp_path / "procedures.git") as repository:
        repository.save(imported.procedure, imported.code, imported.tests, author="importer",
                        message=f"import {folder}")
        assert repository.read(imported.procedure.id).code == imported.code


@pytest.mark.parametrize(("folder", "description"), [
    ("folded-description", "Draft release notes from merged pull requests. Use when a version "
                           "is tagged and the changelog needs a human-readable summary."),
    ("literal-description", 'Review a database migration before it runs.\nTRIGGERS: '
                            '"migration", "alter table", "schema change".\nSKIP when the '
                            "change only touches test fixtures."),
    ("quoted-colons", 'Convert timestamps: ISO 8601 <-> Unix epoch. Use when a log line says '
                      '"ts: 1700000000".'),
    ("unquoted-colon", "Triage a failing CI job. Use it when: a build is red on the main "
                       "branch"),
    ("multiline-quoted", "Translate user-facing strings, keeping placeholders such as {name} "
                         "intact.\nUse for every new locale file."),
    ("comments-and-flow", "Clean up stale feature flags: find flags fully rolled out for 30 "
                          "days."),
    ("windows-line-endings", "Collect a Windows event log for a support ticket."),
    ("byte-order-mark", "Proofread a document saved by an editor that writes a byte-order "
                        "mark."),
])
def test_descriptions_are_read_as_yaml_reads_them(folder: str, description: str) -> None:
    assert import_skill(SKILLS / folder).procedure.description == description


def test_the_other_front_matter_is_kept_as_read() -> None:
    assert import_skill(SKILLS / "metadata-map").front_matter["metadata"] == {
        "author": "platform-team", "version": "2.1", "category": "finance"}
    assert import_skill(SKILLS / "comments-and-flow").front_matter["metadata"] == {
        "owner": "growth", "tier": "2"}
    assert import_skill(SKILLS / "quoted-colons").front_matter["license"] == \
        "Proprietary: see the vendor's terms"
    assert import_skill(SKILLS / "allowed-tools-list").front_matter["allowed-tools"] == [
        "Bash", "Read"]
    assert import_skill(SKILLS / "unknown-keys").front_matter["triggers"] == [
        "changelog", "release notes"]
    windows = import_skill(SKILLS / "windows-line-endings")
    assert windows.front_matter["metadata"] == {"platform": "windows"}
    assert "\r" not in windows.body


def test_a_skill_without_python_code_returns_its_instructions(tmp_path: Path) -> None:
    imported = import_skill(SKILLS / "bash-scripts")
    assert imported.tests == ""
    assert imported.files == ("scripts/compress.bash", "scripts/rotate.sh")
    assert imported.procedure.input_schema["properties"] == {}
    namespace: dict[str, Any] = {}
    exec(compile(imported.code, "main.py", "exec"), namespace)  # our own generated module
    assert namespace["run"]() == imported.body.strip()
    assert "scripts/rotate.sh /var/log/app" in namespace["run"]()


def test_a_skill_with_a_typed_entry_function_brings_its_code_and_tests() -> None:
    imported = import_skill(SKILLS / "python-entry")
    assert isinstance(imported, ImportedSkill)
    folder = SKILLS / "python-entry" / "scripts"
    assert imported.code == (folder / "main.py").read_text(encoding="utf-8")
    assert imported.tests == (folder / "test_main.py").read_text(encoding="utf-8")
    assert imported.procedure.input_schema["required"] == ["text"]
    assert imported.files == ()


def test_the_caller_chooses_the_namespace_and_the_source(tmp_path: Path) -> None:
    imported = import_skill(SKILLS / "plain-minimal", namespace="vendor", source="marketplace")
    assert imported.procedure.id == "vendor/plain-minimal"
    assert imported.procedure.source == "marketplace"
    exported = import_skill(export_skill(revision(**RICH), tmp_path), source="marketplace")
    assert exported.procedure.source == "marketplace"  # not what the file claims
    assert import_skill(tmp_path / "notes-recent", namespace="mine").procedure.id == \
        "mine/recent"
    with pytest.raises(InvalidArgumentError, match="source"):
        import_skill(SKILLS / "plain-minimal", source="somewhere")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="procedure id"):
        import_skill(SKILLS / "plain-minimal", namespace="Not Valid")


def test_athena_metadata_that_does_not_hold_is_dropped_with_a_warning(tmp_path: Path) -> None:
    folder = export_skill(revision(**RICH), tmp_path)
    skill = folder / "SKILL.md"
    text = skill.read_text(encoding="utf-8")
    text = text.replace('athena-permissions: "[\\"semantic.recall\\", \\"episodic.timeline\\"]"',
                        'athena-permissions: "[\\"not an operation\\"]"')
    text = text.replace("athena-tags:", "athena-tags: not json\n  old-tags:")
    text = re.sub(r'athena-input-schema: ".*"', 'athena-input-schema: "{}"', text)
    skill.write_text(text, encoding="utf-8")
    imported = import_skill(folder)
    assert imported.procedure.permissions == ()
    assert imported.procedure.tags == ()
    assert imported.procedure.input_schema == revision().procedure.input_schema
    assert imported.procedure.derived_from == tuple(RICH["derived_from"])
    assert [w.split(" (")[0].split(";")[0] for w in imported.warnings] == [
        "metadata athena-tags is not JSON",
        "metadata athena-permissions is not valid",
        "metadata athena-input-schema differs from the signature of run() in scripts/main.py",
    ]


# --- refusals ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("folder", "line", "message"), [
    ("no-skill-md", None, "there is no SKILL.md"),
    ("bad-front-matter", 3, 'the string opened with " is never closed'),
    ("no-description", 4, "has no description"),
])
def test_the_three_refusals_name_the_file_and_the_line(folder: str, line: int | None,
                                                       message: str) -> None:
    with pytest.raises(SkillFormatError, match=message) as caught:
        import_skill(REFUSED / folder)
    assert caught.value.path == str(REFUSED / folder / "SKILL.md")
    assert caught.value.line == line
    where = f"{REFUSED / folder / 'SKILL.md'}, line {line}: " if line else ""
    assert str(caught.value).startswith(where or str(REFUSED / folder / "SKILL.md"))


@pytest.mark.parametrize(("text", "line", "message"), [
    ("name: x\n", 1, "must start with a front matter block"),
    ("---\nname: x\ndescription: y\n", 1, "never closed"),
    ("---\nname: x\n\tdescription: y\n---\n", 3, "a tab in the indentation"),
    ("---\nname: x\nname: y\n---\n", 3, "the key 'name' appears twice"),
    ("---\nname: \"x\"\n  description: y\n---\n", 3, "unexpected indentation"),
    ("---\nname: x\ndescription: *ref\n---\n", 3, "anchors, aliases and tags"),
    ("---\nname: x\ndescription: [a, b\n---\n", 3, "not closed on its line"),
    ("---\nname: x\ndescription: \"a \\q\"\n---\n", 3, "not a YAML escape"),
    ("---\nname: x\ndescription: \"a\" b\n---\n", 3, "unexpected text after the closing"),
    ("---\nname: x\ndescription: |x\n  y\n---\n", 3, "block scalar header"),
    ("---\nname x\n---\n", 2, "expected 'key: value'"),
    ("---\n- a\n---\n", 2, "must be a mapping"),
    ("---\nmetadata:\n  a: b\n  - c\n---\n", 4, "a list item where"),
])
def test_front_matter_that_does_not_parse_is_refused_with_its_line(
        tmp_path: Path, text: str, line: int, message: str) -> None:
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "SKILL.md").write_text(text, encoding="utf-8")
    with pytest.raises(SkillFormatError, match=re.escape(message)) as caught:
        import_skill(folder)
    assert caught.value.line == line


def test_a_skill_md_that_is_not_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "SKILL.md").write_bytes(b"---\nname: x\ndescription: caf\xe9\n---\n")
    with pytest.raises(SkillFormatError, match="not UTF-8") as caught:
        import_skill(tmp_path)
    assert caught.value.line == 3


@pytest.mark.parametrize("description", ['""', "''", "~", "|\n  \n", "[]"])
def test_an_empty_description_is_refused(tmp_path: Path, description: str) -> None:
    (tmp_path / "SKILL.md").write_text(f"---\nname: x\ndescription: {description}\n---\n",
                                       encoding="utf-8")
    with pytest.raises(SkillFormatError, match="has no description") as caught:
        import_skill(tmp_path)
    assert caught.value.line == 3


# --- the front matter reader and writer ------------------------------------------------------

def test_block_scalars_fold_and_chomp_as_yaml_does() -> None:
    text = ("---\nclip: |\n  a\n   b\n\nkeep: >+\n  a\n  b\n\n  c\n\n\nstrip: >-\n  a\n\n\n"
            "  b\n    indented\n  c\nlist:\n- |\n  one\n- two\n---\n")
    assert read_front_matter(text, path="SKILL.md").values == {
        "clip": "a\n b\n", "keep": "a b\nc\n\n\n", "strip": "a\n\nb\n  indented\nc",
        "list": ["one\n", "two"]}


_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(
    st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,12}", fullmatch=True) | _TEXT.filter(bool),
    _TEXT | st.lists(_TEXT, max_size=3) | st.dictionaries(_TEXT, _TEXT, max_size=3),
    max_size=4))
def test_what_the_writer_writes_reads_back_unchanged(values: dict[str, Any]) -> None:
    text = write_front_matter(values)
    assert read_front_matter(text + "body", path="SKILL.md").values == values


@pytest.mark.parametrize(("key", "value"), [("athena-id", "Not/Valid"),
                                            ("athena-entry", "_private")])
def test_a_recorded_id_or_entry_the_model_refuses_is_ignored(tmp_path: Path, key: str,
                                                            value: str) -> None:
    folder = export_skill(revision(), tmp_path)
    skill = folder / "SKILL.md"
    text = skill.read_text(encoding="utf-8")
    skill.write_text(re.sub(rf"{key}: .*", f'{key}: "{value}"', text), encoding="utf-8")
    imported = import_skill(folder)
    assert imported.warnings[0] == f"metadata {key} {value!r} is not valid; it is ignored."
    if key == "athena-id":
        assert imported.procedure.id == "skills/notes-recent"
    else:  # the code has no such function, so run() is looked for and found
        assert imported.procedure.entry == "run"
        assert imported.code == CODE


def test_hidden_files_and_bytecode_caches_are_not_listed(tmp_path: Path) -> None:
    folder = tmp_path / "python-entry"
    shutil.copytree(SKILLS / "python-entry", folder)
    (folder / "scripts" / "__pycache__").mkdir()
    (folder / "scripts" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (folder / ".DS_Store").write_bytes(b"\0")
    imported = import_skill(folder)
    assert imported.files == ()
    assert imported.warnings == ()

"""Agent Skills folders: export a procedure as one (strict), import one as a procedure (lenient).

An Agent Skill is a folder named after the skill holding ``SKILL.md`` - YAML front matter
(``name``, ``description``, optionally ``license``, ``compatibility``, ``metadata``,
``allowed-tools``) and a Markdown body - and optionally ``scripts/``, ``references/`` and
``assets/``. :func:`skill_problems` holds the specification's rules once; export refuses
a skill that breaks one, import reports each as a warning and repairs what it can.

**Export** (:func:`export_skill`; :func:`render_skill` gives the same folder in memory,
which is what the MCP server serves) writes ``<name>/SKILL.md``, ``<name>/scripts/main.py``
(the code) and ``<name>/scripts/test_main.py`` (the tests). The skill's name is
``<namespace>-<name>`` of the procedure id (``notes/recent`` -> ``notes-recent``), unique
across namespaces in the common case and always a valid skill name when it fits in 64
characters; a caller may pass another. Every field of the :class:`Procedure` except the
description goes into ``metadata`` as ``athena-<field>`` (JSON text for lists and
schemas), with ``athena-commit`` naming the version, so importing the folder gives back an
equal procedure, code and tests.

**Import** (:func:`import_skill`) refuses (:class:`SkillFormatError`, with file and line)
only a folder without ``SKILL.md``, front matter that does not parse, and a missing or
empty description. Everything else is a warning in :attr:`ImportedSkill.warnings`. The
procedure's code is ``scripts/main.py`` when it defines the entry function with a typed
signature; otherwise (instructions only, or scripts that are command-line programs or
not Python) the code is a module whose ``run()`` returns the skill's instructions, and its
tests are empty, so the gate will not admit it until someone writes tests: it stays a
``candidate``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from athena_core._ast import parse_python
from athena_core.errors import InvalidArgumentError, SkillExportError, SkillFormatError
from athena_core.procedures.frontmatter import Value, read_front_matter, write_front_matter
from athena_core.procedures.model import (
    MAX_DESCRIPTION_CHARS,
    SOURCES,
    Procedure,
    Revision,
    Source,
    schema_from_signature,
)

__all__ = [
    "DEFAULT_NAMESPACE",
    "KNOWN_KEYS",
    "MAX_COMPATIBILITY_CHARS",
    "MAX_SKILL_NAME_CHARS",
    "SKILL_FILE",
    "ImportedSkill",
    "SkillFolder",
    "export_skill",
    "import_skill",
    "normalise_skill_name",
    "render_skill",
    "skill_name_for",
    "skill_problems",
]

SKILL_FILE = "SKILL.md"
#: The front matter keys the specification defines.
KNOWN_KEYS = ("name", "description", "license", "compatibility", "metadata", "allowed-tools")
MAX_SKILL_NAME_CHARS = 64
MAX_COMPATIBILITY_CHARS = 500
#: The namespace of imported skills' procedure ids unless the caller names one.
DEFAULT_NAMESPACE = "skills"
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_CODE = "scripts/main.py"
_TESTS = "scripts/test_main.py"
_COMMIT_KEY = "athena-commit"
#: The procedure's fields carried in ``metadata`` (all but the description).
_FIELD_KEYS = {f"athena-{field.name.replace('_', '-')}": field.name
               for field in attrs.fields(Procedure) if field.name != "description"}
_SCRIPT_LANGUAGES = {".sh": "bash", ".bash": "bash", ".zsh": "zsh", ".js": "JavaScript",
                     ".mjs": "JavaScript", ".cjs": "JavaScript", ".ts": "TypeScript",
                     ".rb": "Ruby", ".ps1": "PowerShell", ".py": "Python"}
_LISTED = 5
_IGNORED = "it is kept in front_matter and not used"
#: What import does about each kind of problem skill_problems() reports.
_IMPORT_ACTIONS = {"description": f"it was cut to {MAX_DESCRIPTION_CHARS} characters",
                   "metadata": "only its string values are read"}


@attrs.frozen
class ImportedSkill:
    """A skill folder read as a procedure, with what was found wrong with it."""

    procedure: Procedure
    #: ``main.py`` for the procedure.
    code: str
    #: ``test_main.py`` for the procedure; empty when the skill brought none.
    tests: str
    #: Each cosmetic problem found and what was done about it.
    warnings: tuple[str, ...]
    #: The front matter as read (``license``, ``allowed-tools``, ... are here).
    front_matter: dict[str, Value]
    #: The Markdown body of ``SKILL.md``.
    body: str
    #: Files of the folder that are not part of the procedure (relative, ``/``-separated).
    files: tuple[str, ...]
    #: The Athena commit the skill was exported from, if it says so.
    commit: str | None = None


# --- the rules --------------------------------------------------------------------------------

def skill_problems(front_matter: Mapping[str, Any], folder_name: str) -> list[tuple[str, str]]:
    """The ways ``front_matter`` breaks the Agent Skills specification, as ``(key, problem)``
    pairs, for a ``SKILL.md`` in a folder named ``folder_name``; ``[]`` if none."""
    problems: list[tuple[str, str]] = []
    name = front_matter.get("name")
    if not isinstance(name, str) or not name:
        problems.append(("name", "name is missing"))
    else:
        if not (_NAME.fullmatch(name) and len(name) <= MAX_SKILL_NAME_CHARS):
            problems.append(("name", f"name {name[:80]!r} is not 1-{MAX_SKILL_NAME_CHARS} "
                                     "lower-case letters, digits and single hyphens"))
        if name != folder_name:
            problems.append(("folder", f"name {name[:80]!r} is not the folder's name "
                                       f"{folder_name[:80]!r}"))
    description = front_matter.get("description")
    if not isinstance(description, str) or not description.strip():
        problems.append(("description", "description is missing or empty"))
    elif len(description) > MAX_DESCRIPTION_CHARS:
        problems.append(("description", f"description has {len(description)} characters, "
                                        f"more than {MAX_DESCRIPTION_CHARS}"))
    compatibility = front_matter.get("compatibility")
    if compatibility is not None and not (isinstance(compatibility, str)
                                          and len(compatibility) <= MAX_COMPATIBILITY_CHARS):
        problems.append(("compatibility", "compatibility is not a string of at most "
                                          f"{MAX_COMPATIBILITY_CHARS} characters"))
    metadata = front_matter.get("metadata")
    if metadata is not None and not (isinstance(metadata, Mapping) and all(
            isinstance(value, str) for value in metadata.values())):
        problems.append(("metadata", "metadata is not a mapping of strings to strings"))
    tools = front_matter.get("allowed-tools")
    if tools is not None and not isinstance(tools, str):
        problems.append(("allowed-tools", "allowed-tools is not a space-separated string"))
    license = front_matter.get("license")
    if license is not None and not isinstance(license, str):
        problems.append(("license", "license is not a string"))
    problems.extend((key, f"the key {key[:60]!r} is not in the specification")
                    for key in front_matter if key not in KNOWN_KEYS)
    return problems


def skill_name_for(procedure_id: str) -> str:
    """The skill name a procedure exports as: ``namespace/name`` -> ``namespace-name``."""
    return procedure_id.replace("/", "-")


def normalise_skill_name(text: str) -> str:
    """``text`` made a valid skill name: lower case, runs of other characters (``_``, spaces,
    dots) become one hyphen, at most 64 characters; ``""`` if nothing usable is left."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return name[:MAX_SKILL_NAME_CHARS].rstrip("-")


# --- export -----------------------------------------------------------------------------------

@attrs.frozen
class SkillFolder:
    """What :func:`export_skill` writes for a revision, in memory: the skill's name, the
    front matter of its ``SKILL.md`` and its files (relative ``/``-separated path -> text,
    ``SKILL.md`` first)."""

    name: str
    front_matter: dict[str, Any]
    files: dict[str, str]


def render_skill(revision: Revision, *, name: str | None = None) -> SkillFolder:
    """The Agent Skills folder of ``revision``, as :func:`export_skill` would write it.

    ``name`` defaults to :func:`skill_name_for` the procedure's id. Raises
    :class:`SkillExportError` if the skill would break the specification
    (:func:`skill_problems`).
    """
    if not isinstance(revision, Revision):
        raise SkillExportError(f"revision must be a Revision, not {type(revision).__name__}.",
                               argument="revision")
    procedure = revision.procedure
    skill = skill_name_for(procedure.id) if name is None else name
    front: dict[str, Any] = {"name": skill, "description": procedure.description,
                             "metadata": _athena_metadata(revision)}
    problems = skill_problems(front, skill)
    if problems:
        raise SkillExportError(
            f"Procedure {procedure.id!r} cannot be exported as an Agent Skill: "
            f"{problems[0][1]}; nothing was written.",
            hint="Pass name='...' (1-64 lower-case letters, digits and single hyphens).",
            argument="name")
    return SkillFolder(name=skill, front_matter=front, files={
        SKILL_FILE: write_front_matter(front) + "\n" + _body(revision, skill),
        _CODE: revision.code, _TESTS: revision.tests})


def export_skill(revision: Revision, directory: str | os.PathLike[str], *,
                 name: str | None = None) -> Path:
    """Write ``revision`` as the Agent Skills folder ``directory/<name>``; return its path.

    The folder is :func:`render_skill`'s. Strict: raises :class:`SkillExportError`
    (nothing written) if the skill would break the specification (:func:`skill_problems`)
    or the folder already exists. The folder is written beside its place and renamed into
    it, so it appears whole or not at all.
    """
    rendered = render_skill(revision, name=name)
    skill = rendered.name
    parent = Path(directory)
    target = parent / skill
    if target.exists() or target.is_symlink():
        raise SkillExportError(f"{target} already exists; nothing was written.",
                               hint="Export into another directory, or remove that folder.",
                               argument="directory")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{skill}.", dir=parent))
        try:
            for relative, text in rendered.files.items():
                path = staging / relative
                path.parent.mkdir(exist_ok=True)
                path.write_text(text, encoding="utf-8", newline="")
            staging.chmod(0o755)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    except OSError as exc:
        raise SkillExportError(f"Could not write {target}: {exc.strerror or exc}; nothing "
                               "was left behind.", argument="directory") from None
    return target


def _athena_metadata(revision: Revision) -> dict[str, str]:
    fields = revision.procedure.manifest_fields()
    metadata = {}
    for key, field in _FIELD_KEYS.items():
        value = fields.get(field)  # real_values only when it names an input
        if value is None:
            continue
        metadata[key] = value if isinstance(value, str) else json.dumps(
            value, ensure_ascii=False, separators=(", ", ": "))
    metadata[_COMMIT_KEY] = revision.commit
    return metadata


def _body(revision: Revision, skill: str) -> str:
    """The Markdown body: what the skill is, how to run it, its inputs, output and tests."""
    procedure = revision.procedure
    schema = procedure.input_schema
    required = set(schema.get("required", ()))
    example = {param: _example(spec) for param, spec in schema["properties"].items()
               if param in required}
    lines = [
        f"# {skill}", "", procedure.description, "",
        f"This skill is the Athena procedure `{procedure.id}` at commit "
        f"`{revision.commit[:12]}`, with its code and its tests.", "",
        "## How to run it", "",
        f"`scripts/main.py` defines `{procedure.entry}()`, which takes keyword arguments "
        "and returns a JSON value. From the skill's folder, with the inputs as a JSON "
        "object:", "",
        "```bash",
        "cd scripts && python -c 'import json, sys, main; print(json.dumps("
        f"main.{procedure.entry}(**json.loads(sys.argv[1]))))' "
        f"{shlex.quote(json.dumps(example))}",
        "```", "",
        "## Inputs", "",
    ]
    if schema["properties"]:
        lines += ["| name | JSON schema | required |", "|---|---|---|"]
        lines += [f"| `{param}` | `{json.dumps(spec)}` | {'yes' if param in required else 'no'} |"
                  for param, spec in schema["properties"].items()]
    else:
        lines.append("None.")
    lines += ["", "## Output", "",
              f"JSON schema `{json.dumps(procedure.output_schema)}` (`{{}}` is any JSON value).",
              ""]
    if procedure.permissions:
        ops = ", ".join(f"`{op}`" for op in procedure.permissions)
        lines += ["## Athena operations", "",
                  f"It calls {ops} through Athena's `athena` module, so it runs only where "
                  "Athena provides that module (Athena's sandbox), with those permissions.", ""]
    lines += ["## Tests", "", "```bash", "cd scripts && python -m pytest -q test_main.py", "```",
              ""]
    return "\n".join(lines)


def _example(schema: Mapping[str, Any]) -> Any:
    """A value of the JSON type ``schema`` names, for the example command."""
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return {"string": "text", "integer": 1, "number": 1.0, "boolean": True, "array": [],
            "object": {}}.get(str(kind))


# --- import -----------------------------------------------------------------------------------

def import_skill(directory: str | os.PathLike[str], *, namespace: str | None = None,
                 source: Source | None = None) -> ImportedSkill:
    """Read the skill folder ``directory`` as a procedure; lenient (see the module docstring).

    The procedure's id is ``<namespace>/<skill name>``; ``namespace`` defaults to the
    namespace of the id an Athena export records (``metadata: athena-id``), else
    ``skills``. ``source`` defaults to the one an Athena export records, else ``user``;
    pass ``marketplace`` for skills from elsewhere. Raises :class:`SkillFormatError`
    naming the file and line if ``SKILL.md`` is missing, its front matter does not parse,
    or it has no description. Nothing is written.
    """
    if source is not None and source not in SOURCES:
        raise InvalidArgumentError(f"source is {source!r}; it must be one of "
                                   f"{', '.join(SOURCES)}.", argument="source")
    folder = Path(directory)
    skill_path = folder / SKILL_FILE
    where = str(skill_path)
    if not skill_path.is_file():
        raise SkillFormatError(f"there is no {SKILL_FILE}; a skill folder holds one.",
                               path=where)
    text = _read_text(skill_path, where)
    parsed = read_front_matter(text, path=where)
    front = parsed.values
    warnings = list(parsed.notes)
    description = front.get("description")
    if not isinstance(description, str) or not description.strip():
        raise SkillFormatError("the front matter has no description; add 'description: ' "
                               "saying what the skill does and when to use it.", path=where,
                               line=parsed.lines.get("description", 1))
    folder_name = folder.resolve().name
    for key, problem in skill_problems(front, folder_name):
        if key not in ("name", "folder"):  # reported below, once the name is normalised
            warnings.append(f"{problem}; {_IMPORT_ACTIONS.get(key, _IGNORED)}.")
    name = _skill_name(front.get("name"), folder_name, warnings)
    if name != folder_name:
        warnings.append(f"the name {name!r} is not the folder's name {folder_name[:80]!r}; "
                        "the name is used.")
    metadata = front.get("metadata")
    athena = _athena_fields(metadata if isinstance(metadata, dict) else {}, warnings)
    if len(description) > MAX_DESCRIPTION_CHARS:
        description = description[:MAX_DESCRIPTION_CHARS - 1].rstrip() + "…"
    elif "id" not in athena:
        description = description.strip()
    entry = athena.pop("entry", "run")
    code, tests, used = _code_and_tests(folder, entry, warnings)
    if code is None:
        code, entry = _instructions_module(name, parsed.body), "run"
    if not tests:
        warnings.append("it has no tests (scripts/test_main.py), so it stays a candidate: the "
                        "gate admits no version without passing tests.")
    recorded = athena.pop("id", "")
    if namespace is None:
        namespace = recorded.partition("/")[0] or DEFAULT_NAMESPACE
    id = f"{namespace}/{recorded.partition('/')[2] or name}"
    if source is not None:
        athena["source"] = source
    procedure = _procedure(code, id, description, entry, athena, warnings)
    files = _other_files(folder, used, warnings)
    commit = metadata.get(_COMMIT_KEY) if isinstance(metadata, dict) else None
    return ImportedSkill(procedure=procedure, code=code, tests=tests,
                         warnings=tuple(warnings), front_matter=front, body=parsed.body,
                         files=files, commit=commit if isinstance(commit, str) else None)


def _read_text(path: Path, where: str) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkillFormatError("the file is not UTF-8 text.", path=where,
                               line=data[:exc.start].count(b"\n") + 1) from None


def _skill_name(declared: Value, folder_name: str, warnings: list[str]) -> str:
    if isinstance(declared, str) and declared:
        raw = declared
    else:
        raw = folder_name
        warnings.append(f"name is missing; the folder's name {folder_name[:80]!r} is used.")
    name = normalise_skill_name(raw) or normalise_skill_name(folder_name) or "skill"
    if name != raw:
        warnings.append(f"the name {raw[:80]!r} is not 1-{MAX_SKILL_NAME_CHARS} lower-case "
                        f"letters, digits and single hyphens; it was normalised to {name!r}.")
    return name


def _athena_fields(metadata: Mapping[str, Value], warnings: list[str]) -> dict[str, Any]:
    """The procedure fields an Athena export recorded in ``metadata`` (unreadable ones are
    left out, with a warning)."""
    fields: dict[str, Any] = {}
    for key, field in _FIELD_KEYS.items():
        value = metadata.get(key)
        if not isinstance(value, str):
            continue
        if field in ("id", "entry", "language", "source", "supersedes"):
            fields[field] = value
        else:
            try:
                fields[field] = json.loads(value)
            except ValueError:
                warnings.append(f"metadata {key} is not JSON; it is ignored.")
    for field in ("id", "entry"):  # needed before the procedure is made, so checked here
        if field in fields and not _valid(field, fields[field]):
            warnings.append(f"metadata athena-{field} {fields.pop(field)[:80]!r} is not valid; "
                            "it is ignored.")
    return fields


def _valid(field: str, value: str) -> bool:
    """Whether the model's own check of ``field`` accepts ``value``."""
    attribute = getattr(attrs.fields(Procedure), field)
    try:
        attribute.validator(None, attribute, value)
    except InvalidArgumentError:
        return False
    return True


def _code_and_tests(folder: Path, entry: str, warnings: list[str]
                    ) -> tuple[str | None, str, set[str]]:
    """``scripts/main.py`` if it defines ``entry`` with a typed signature, its tests, and
    the relative paths used; ``(None, "", set())`` if there is no such code."""
    code_path, tests_path = folder / _CODE, folder / _TESTS
    if not code_path.is_file():
        warnings.append(f"there is no {_CODE}, so the procedure's run() returns the skill's "
                        "instructions (the body of SKILL.md).")
        return None, "", set()
    try:
        code = code_path.read_bytes().decode("utf-8")
        schema_from_signature(code, function=entry)
    except UnicodeDecodeError:
        warnings.append(f"{_CODE} is not UTF-8; the procedure returns the skill's "
                        "instructions instead.")
        return None, "", set()
    except InvalidArgumentError as exc:
        warnings.append(f"{_CODE} is not a procedure's code ({exc.message}); the procedure "
                        "returns the skill's instructions instead.")
        return None, "", set()
    if not tests_path.is_file():
        return code, "", {_CODE}
    try:
        tests = tests_path.read_bytes().decode("utf-8")
        parse_python(tests)
    except (UnicodeDecodeError, SyntaxError, ValueError):
        warnings.append(f"{_TESTS} is not Python that parses; it is not imported.")
        return code, "", {_CODE}
    return code, tests, {_CODE, _TESTS}


def _instructions_module(name: str, body: str) -> str:
    """The code of a skill without runnable Python: ``run()`` returns its instructions."""
    return (f'"""The instructions of the Agent Skill {name!r}, imported without code Athena '
            'can run."""\n\n'
            f"INSTRUCTIONS = {body.strip()!r}\n\n\n"
            "def run() -> str:\n"
            '    """The skill\'s instructions (the body of its SKILL.md), to follow."""\n'
            "    return INSTRUCTIONS\n")


def _procedure(code: str, id: str, description: str, entry: str, athena: dict[str, Any],
               warnings: list[str]) -> Procedure:
    """The procedure, its schemas read from ``code``; a field recorded in the metadata that
    the model refuses is left out with a warning."""
    recorded = {"input_schema": athena.pop("input_schema", None),
                "output_schema": athena.pop("output_schema", None)}
    while True:
        try:
            procedure = Procedure.from_code(code, id=id, description=description, entry=entry,
                                            **athena)
        except InvalidArgumentError as exc:
            if exc.argument not in athena:
                raise
            warnings.append(f"metadata athena-{exc.argument.replace('_', '-')} is not valid "
                            f"({exc.message}); it is ignored.")
            del athena[exc.argument]
            continue
        break
    for field, value in recorded.items():
        if value is not None and value != getattr(procedure, field):
            warnings.append(f"metadata athena-{field.replace('_', '-')} differs from the "
                            f"signature of {entry}() in {_CODE}; the signature is used.")
    return procedure


def _other_files(folder: Path, used: set[str], warnings: list[str]) -> tuple[str, ...]:
    """The folder's files that are not part of the procedure, with a warning for each kind
    (hidden files and ``__pycache__`` are skipped)."""
    found: list[str] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for file in sorted(names):
            relative = (Path(root) / file).relative_to(folder).as_posix()
            if relative != SKILL_FILE and relative not in used and not file.startswith("."):
                found.append(relative)
    scripts = [f for f in found if f.startswith("scripts/")]
    others = [f for f in found if not f.startswith("scripts/")]
    if scripts:
        kinds = [f"{f} ({_SCRIPT_LANGUAGES.get(Path(f).suffix, 'not a script')})"
                 for f in scripts]
        warnings.append(f"{_listing(kinds)} in scripts/ are not the procedure's code: "
                        f"Athena runs Python procedures whose code is {_CODE} with a typed "
                        "entry function; they are listed in files.")
    if others:
        warnings.append(f"{_listing(others)} are not stored with the procedure; they are "
                        "listed in files.")
    return tuple(found)


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    more = len(items) - _LISTED
    return f"{shown} and {more} more" if more > 0 else shown

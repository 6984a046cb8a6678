"""The procedure model: ids, fields, the manifest format and schemas read from a signature."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from athena_core.errors import InvalidArgumentError, ProcedureManifestError
from athena_core.procedures import (
    HistoryEntry,
    Procedure,
    ProcedureVersion,
    Revision,
    ValidationCheck,
    ValidationReport,
    VersionRecord,
    check_procedure_id,
    schema_from_signature,
)

CODE = '''\
from typing import Literal


def run(topic: str, days: int = 7, mode: Literal["short", "long"] = "short",
        tags: list[str] | None = None) -> dict[str, list[str]]:
    """Sum up a topic."""
    return {"topic": [topic]}
'''


def make(**fields: Any) -> Procedure:
    values: dict[str, Any] = {"id": "notes/weekly-review",
                              "description": "Sum up the week's notes; use on Fridays."}
    values.update(fields)
    return Procedure.from_code(CODE, **values)


# --- ids and fields -------------------------------------------------------------------------

@pytest.mark.parametrize("id", ["notes/weekly-review", "a/b", "x1/2y", "ns-9/name-with-3-parts",
                                f"{'a' * 64}/{'b' * 64}"])
def test_valid_ids_are_accepted(id: str) -> None:
    assert check_procedure_id(id) == id
    assert make(id=id).id == id


@pytest.mark.parametrize("id", ["Notes/weekly", "notes", "a/b/c", "/b", "a/", "-a/b", "a-/b",
                                "a--b/c", "a_b/c", "a b/c", "a/b.py", "../a", "a/..", "é/b",
                                f"{'a' * 65}/b", "", 7, None])
def test_invalid_ids_are_a_typed_error_naming_the_field(id: object) -> None:
    with pytest.raises(InvalidArgumentError, match="procedure id") as caught:
        make(id=id)
    assert caught.value.argument == "id"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("description", "", "is empty"),
    ("description", "   \n", "is empty"),
    ("description", "x" * 1025, "1025 characters; at most 1024"),
    ("description", 3, "must be a string"),
    ("permissions", ["semantic.recall", "not an operation"], "not an Athena operation name"),
    ("permissions", "semantic.recall", "must be a list of strings"),
    ("permissions", ["semantic.recall", "semantic.recall"], "the same value twice"),
    ("tags", [""], "not blank"),
    ("tags", ["a\nb"], "control characters"),
    ("tags", [3], "strings only"),
    ("derived_from", ["x" * 256], "1-255 characters"),
    ("source", "somewhere", "one of learned, user, package, marketplace"),
    ("language", "cobol", "one of python"),
    ("entry", "not-an-identifier", "public Python function"),
    ("supersedes", "Bad/Id", "procedure supersedes"),
    ("supersedes", "notes/weekly-review", "cannot supersede itself"),
])
def test_invalid_fields_are_a_typed_error_naming_the_field(field: str, value: object,
                                                           message: str) -> None:
    values = {"id": "notes/weekly-review", "description": "Sums up.",
              "input_schema": {"type": "object", "properties": {}}, "output_schema": {},
              field: value}
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        Procedure(**values)
    assert caught.value.argument == field


def test_the_input_schema_must_be_an_object_schema_of_json_values() -> None:
    good = make()
    with pytest.raises(InvalidArgumentError, match="object schema") as caught:
        attrs.evolve(good, input_schema={"type": "string"})
    assert caught.value.argument == "input_schema"
    with pytest.raises(InvalidArgumentError, match="JSON values only") as caught:
        attrs.evolve(good, output_schema={"default": float("nan")})
    assert caught.value.argument == "output_schema"


def test_from_code_derives_both_schemas_and_lists_become_tuples() -> None:
    procedure = make(permissions=["semantic.recall"], tags=["weekly", "notes"])
    assert procedure.input_schema["required"] == ["topic"]
    assert procedure.output_schema == {"type": "object", "additionalProperties": {
        "type": "array", "items": {"type": "string"}}}
    assert procedure.permissions == ("semantic.recall",)
    assert procedure.tags == ("weekly", "notes")
    assert (procedure.namespace, procedure.name) == ("notes", "weekly-review")
    assert hash(procedure) == hash(make(permissions=["semantic.recall"],
                                        tags=["weekly", "notes"]))


# --- the manifest ---------------------------------------------------------------------------

def test_the_manifest_round_trips_byte_for_byte() -> None:
    procedure = make(permissions=["semantic.recall", "episodic.timeline"], tags=["weekly"],
                     source="learned", derived_from=["01EXEC", "01EPISODE"],
                     supersedes="notes/old-review")
    text = procedure.to_manifest()
    assert Procedure.from_manifest(text) == procedure
    assert Procedure.from_manifest(text.encode()).to_manifest() == text
    raw = json.loads(text)
    assert next(iter(raw)) == "format" and raw["format"] == 1
    # The schema keeps the parameters in the signature's order.
    assert list(raw["input_schema"]["properties"]) == ["topic", "days", "mode", "tags"]
    assert text.endswith("}\n")


def _manifest(**changes: Any) -> str:
    raw = json.loads(make().to_manifest())
    for key, value in changes.items():
        if value is _DELETE:
            del raw[key]
        else:
            raw[key] = value
    return json.dumps(raw)


_DELETE = object()


@pytest.mark.parametrize(("changes", "field"), [
    ({"colour": "blue"}, "colour"),
    ({"description": _DELETE}, "description"),
    ({"input_schema": _DELETE}, "input_schema"),
    ({"format": _DELETE}, "format"),
    ({"format": 2}, "format"),
    ({"format": True}, "format"),
    ({"id": "Not/Valid"}, "id"),
    ({"description": 12}, "description"),
    ({"tags": "weekly"}, "tags"),
    ({"tags": [1, 2]}, "tags"),
    ({"permissions": {"semantic.recall": True}}, "permissions"),
    ({"derived_from": None}, "derived_from"),
    ({"supersedes": 3}, "supersedes"),
    ({"input_schema": []}, "input_schema"),
    ({"output_schema": "int"}, "output_schema"),
    ({"source": "pypi"}, "source"),
    ({"entry": None}, "entry"),
])
def test_a_malformed_manifest_is_a_typed_error_naming_the_field(changes: dict[str, Any],
                                                                field: str) -> None:
    with pytest.raises(ProcedureManifestError, match=repr(field)[1:-1]) as caught:
        Procedure.from_manifest(_manifest(**changes))
    assert caught.value.argument == field
    assert isinstance(caught.value, InvalidArgumentError)


@pytest.mark.parametrize(("text", "message", "field"), [
    ("not json", "not valid JSON", None),
    (b"\xff\xfe", "not valid JSON", None),
    ("[1, 2]", "must hold a JSON object", None),
    ('{"format": 1, "format": 1}', "'format' twice", "format"),
])
def test_a_manifest_that_is_not_a_json_object_is_a_typed_error(text: str | bytes, message: str,
                                                               field: str | None) -> None:
    with pytest.raises(ProcedureManifestError, match=message) as caught:
        Procedure.from_manifest(text)
    assert caught.value.argument == field


def test_optional_fields_may_be_left_out_of_a_manifest() -> None:
    text = _manifest(tags=_DELETE, permissions=_DELETE, source=_DELETE, derived_from=_DELETE,
                     supersedes=_DELETE, language=_DELETE, entry=_DELETE)
    procedure = Procedure.from_manifest(text)
    assert (procedure.tags, procedure.source, procedure.entry) == ((), "user", "run")


# --- schemas from a signature ---------------------------------------------------------------

@pytest.mark.parametrize(("annotation", "schema"), [
    ("int", {"type": "integer"}),
    ("float", {"type": "number"}),
    ("str", {"type": "string"}),
    ("bool", {"type": "boolean"}),
    ("list[int]", {"type": "array", "items": {"type": "integer"}}),
    ("List[str]", {"type": "array", "items": {"type": "string"}}),
    ("list", {"type": "array"}),
    ("dict[str, float]", {"type": "object", "additionalProperties": {"type": "number"}}),
    ("Dict[str, list[bool]]", {"type": "object", "additionalProperties": {
        "type": "array", "items": {"type": "boolean"}}}),
    ("str | None", {"type": ["string", "null"]}),
    ("Optional[int]", {"type": ["integer", "null"]}),
    ("typing.Optional[int]", {"type": ["integer", "null"]}),
    ("Union[int, str]", {"type": ["integer", "string"]}),
    ("list[int] | None", {"anyOf": [{"type": "array", "items": {"type": "integer"}},
                                    {"type": "null"}]}),
    ('Literal["a", "b"]', {"enum": ["a", "b"]}),
    ("Literal[1, -2, True, None]", {"enum": [1, -2, True, None]}),
    ('"list[int]"', {"type": "array", "items": {"type": "integer"}}),
    ("Any", {}),
])
def test_annotations_become_json_schema(annotation: str, schema: dict[str, Any]) -> None:
    source = f"import typing\n\ndef run(x: {annotation}) -> {annotation}:\n    return x\n"
    signature = schema_from_signature(source)
    assert signature.input_schema == {"type": "object", "properties": {"x": schema},
                                      "additionalProperties": False, "required": ["x"]}
    assert signature.output_schema == schema


def test_parameters_without_defaults_are_required_and_scalar_defaults_are_shown() -> None:
    source = ("def run(a: int, b: str = 'x', c: float = 1.5, *, d: bool, e: list[int] = [],"
              " f: int | None = None, g: int = 2 * 3) -> None:\n    pass\n")
    schema = schema_from_signature(source).input_schema
    assert schema["required"] == ["a", "d"]
    properties = schema["properties"]
    assert list(properties) == ["a", "b", "c", "d", "e", "f", "g"]
    assert properties["b"]["default"] == "x" and properties["c"]["default"] == 1.5
    assert properties["f"]["default"] is None
    assert "default" not in properties["e"] and "default" not in properties["g"]
    assert schema_from_signature(source).output_schema == {"type": "null"}


def test_a_function_with_no_parameters_has_no_required_list() -> None:
    assert schema_from_signature("def run() -> int:\n    return 1\n").input_schema == {
        "type": "object", "properties": {}, "additionalProperties": False}


def test_the_source_is_parsed_never_run(tmp_path) -> None:
    marker = tmp_path / "ran"
    source = (f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit(3)\n\n"
              "def helper() -> None:\n    pass\n\n"
              f"def run(x: int = __import__('os').system('touch {marker}')) -> int:\n"
              "    return x\n")
    signature = schema_from_signature(source, function="run")
    assert signature.input_schema["properties"] == {"x": {"type": "integer"}}
    assert not marker.exists()


def test_a_function_object_is_read_from_its_source() -> None:
    def weekly(topic: str, days: int = 7) -> list[str]:
        return [topic] * days

    signature = schema_from_signature(weekly)
    assert signature.input_schema["required"] == ["topic"]
    assert signature.output_schema == {"type": "array", "items": {"type": "string"}}


@pytest.mark.parametrize(("source", "message", "argument"), [
    ("def run(x) -> int:\n    return 1\n", "'x' of run\\(\\) has no type annotation", "x"),
    ("def run(x: int):\n    return 1\n", "no return annotation", "return"),
    ("def run(*args: int) -> int:\n    return 1\n", "\\*args", "run"),
    ("def run(**kw: int) -> int:\n    return 1\n", "\\*\\*kwargs", "run"),
    ("def run(x: int, /) -> int:\n    return 1\n", "positional-only", "run"),
    ("def run(x: tuple[int, int]) -> int:\n    return 1\n", "'tuple\\[int, int\\]'", "x"),
    ("def run(x: set[str]) -> int:\n    return 1\n", "no JSON form", "x"),
    ("def run(x: dict[int, str]) -> int:\n    return 1\n", "no JSON form", "x"),
    ("def run(x: Path) -> int:\n    return 1\n", "no JSON form", "x"),
    ("def run(x: int) -> os.PathLike:\n    return 1\n", "the return value", "return"),
    ("def run(x: Literal[1.5]) -> int:\n    return 1\n", "no JSON form", "x"),
    ("def run(x: 'not valid(') -> int:\n    return 1\n", "no JSON form", "x"),
    ("async def run(x: int) -> int:\n    return 1\n", "async", "entry"),
    ("x = 1\n", "exactly one top-level function", "entry"),
    ("def a() -> int:\n    return 1\n\ndef b() -> int:\n    return 2\n",
     "exactly one top-level function", "entry"),
    ("def run(:\n", "does not parse as Python \\(line 1\\)", "code"),
])
def test_signatures_without_a_json_form_are_refused(source: str, message: str,
                                                    argument: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        schema_from_signature(source)
    assert caught.value.argument == argument


def test_a_named_function_that_is_missing_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="a top-level function 'main'"):
        schema_from_signature(CODE, function="main")


# --- versions and reports ---------------------------------------------------------------------

def test_a_procedure_version_is_both_a_revision_and_a_version_record() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    version = ProcedureVersion(commit="a" * 40, author="alice", message="first",
                               created_at="2026-12-01T12:00:00Z", procedure=make(), code=CODE,
                               tests="", number=1, status="candidate")
    assert isinstance(version, Revision) and isinstance(version, VersionRecord)
    assert isinstance(version, HistoryEntry)
    assert version.created_at == now and version.validation is None
    assert {f.name for f in attrs.fields(ProcedureVersion)} == {
        "commit", "author", "message", "created_at", "procedure", "code", "tests", "number",
        "status", "validation"}
    with pytest.raises(InvalidArgumentError, match="candidate, active, retired"):
        attrs.evolve(version, status="approved")


def test_a_validation_report_round_trips_and_passes_only_when_every_check_passed() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    report = ValidationReport(checks=[ValidationCheck("syntax", True),
                                      ValidationCheck("tests", False, "1 of 3 failed")],
                              checked_at=at)
    assert not report.passed
    assert ValidationReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    assert ValidationReport(checks=[ValidationCheck("syntax", True)], checked_at=at).passed
    assert not ValidationReport(checks=[], checked_at=at).passed

"""The scope of a call is bound by the core, not by each operation's signature.

Regression tests for what was observed: lineage walks without a scope condition, an
import trusting a file's ``lineage_id``, and a plugin operation without a ``scope``
parameter running in the default scope while its caller was bound to another.
"""

from __future__ import annotations

import io
import json
import types

import pytest
from sqlalchemy import update

from athena_core import calls
from athena_core.api import operation
from athena_core.errors import (
    ImportFormatError,
    MemoryNotFoundError,
    PermissionDeniedError,
    ScopeViolationError,
)
from athena_core.hookspecs import hookimpl
from athena_core.storage.models import FactRow, MemoryRow
from athena_core.transfer import export_jsonl, import_jsonl
from tests.sandbox import require_sandbox


@operation()
def scopeless_find(athena, query: str) -> list[str]:
    """Texts of the memories matching ``query`` (a plugin operation without ``scope``)."""
    return [hit.text for hit in athena.recall(query, k=20)]


@operation(permissions="write")
def scopeless_note(athena, text: str) -> str:
    """Remember ``text`` (a plugin operation without ``scope``)."""
    return athena.remember(text)


SCOPELESS = types.SimpleNamespace(
    athena_register_api=hookimpl(lambda register: (
        register("scopeless.find", scopeless_find), register("scopeless.note", scopeless_note))))


@pytest.fixture
def athena(athena_factory):
    return athena_factory()


def _two_tenants(athena):
    a = athena.remember("tenant A launch code is 1234", scope="A")
    b = athena.remember("tenant B launch plan", scope="B")
    return a, b


def _import_lines(athena, *records) -> None:
    lines = [json.dumps({"format": "athena-export", "version": 1})]
    lines += [json.dumps(r) for r in records]
    import_jsonl(athena, io.BytesIO(("\n".join(lines) + "\n").encode()))


def _fact_record(id_: str, scope: str, text: str, **fields) -> dict:
    stamp = "2026-01-01T00:00:00+00:00"
    return {"id": id_, "layer": "semantic", "scope": scope, "text": text, "metadata": {},
            "importance": 0.5, "created_at": stamp, "updated_at": stamp, "valid_from": stamp,
            "valid_to": None, "fields": {"version": 1, **fields}}


# --- lineage ---------------------------------------------------------------------------

def test_import_refuses_a_lineage_in_another_scope(athena) -> None:
    a, _ = _two_tenants(athena)
    with pytest.raises(ImportFormatError, match="lineage_id"):
        _import_lines(athena, _fact_record("01HXKMPRTEDB00000000000000", "B", "mine now",
                                           lineage_id=a))
    assert [f.text for f in athena.semantic.history(a, scope="A")] == [
        "tenant A launch code is 1234"]
    with pytest.raises(MemoryNotFoundError):
        athena.get("01HXKMPRTEDB00000000000000", scope="B")  # nothing was imported


def test_import_refuses_superseded_by_in_another_scope(athena) -> None:
    a, _ = _two_tenants(athena)
    with pytest.raises(ImportFormatError, match="superseded_by"):
        _import_lines(athena, _fact_record("01HXKMPRTEDB00000000000001", "B", "old",
                                           superseded_by=a))


def test_import_accepts_lineages_within_the_file_and_the_scope(athena, tmp_path) -> None:
    first = athena.remember("v1", scope="C")
    athena.semantic.update(first, "v2", scope="C")
    out = io.StringIO()
    export_jsonl(athena, out, scope="C")
    athena.forget(first, scope="C")
    report = import_jsonl(athena, io.BytesIO(out.getvalue().encode()))
    assert report.imported == 2
    assert [f.text for f in athena.semantic.history(first, scope="C")] == ["v1", "v2"]


def test_history_and_forget_stay_in_scope_even_with_a_cross_scope_lineage(athena) -> None:
    """Defence in depth: a row linked to another scope's lineage (as a faulty import or
    plugin could leave) is still never read or deleted across scopes."""
    a, b = _two_tenants(athena)
    with athena.store.storage.write() as session:
        b_pk = session.scalar(MemoryRow.__table__.select().with_only_columns(MemoryRow.pk)
                              .where(MemoryRow.id == b))
        session.execute(update(FactRow).where(FactRow.memory_pk == b_pk)
                        .values(lineage_id=a))
    assert [f.id for f in athena.semantic.history(b, scope="B")] == [b]
    assert athena.forget(b, scope="B") == 1
    assert athena.get(a, scope="A").text == "tenant A launch code is 1234"


# --- the bound scope reaches operations without a scope parameter ------------------------

@pytest.fixture
def plugged(athena_factory, data_dir):
    from athena_core import Athena
    from tests.conftest import make_config

    instance = Athena.open(config=make_config(data_dir), plugins=[SCOPELESS])
    yield instance
    instance.close()


def test_host_call_with_explicit_scope_binds_nested_calls(plugged) -> None:
    _two_tenants(plugged)
    with calls.bind(calls.CallContext(scope="B", caller="test")):
        assert plugged.api.get("scopeless.find")("launch") == ["tenant B launch plan"]
        new = plugged.api.get("scopeless.note")("written in B")
    assert plugged.get(new, scope="B").text == "written in B"
    with pytest.raises(MemoryNotFoundError):
        plugged.get(new)  # not in the default scope


def test_a_bound_call_cannot_name_another_scope(plugged) -> None:
    _two_tenants(plugged)
    with calls.bind(calls.CallContext(scope="B", caller="test")), \
            pytest.raises(ScopeViolationError, match="bound to scope 'B'"):
        plugged.recall("launch", scope="A")


def test_permissions_are_checked_on_nested_calls(plugged) -> None:
    """A read-only caller cannot write through a plugin operation that writes."""
    context = calls.CallContext(scope="B", caller="test", permissions=frozenset({"read"}))
    with calls.bind(context), pytest.raises(PermissionDeniedError) as caught:
        plugged.api.get("scopeless.note")("sneaky")
    assert caught.value.operation == "scopeless.note" and caught.value.missing == ("write",)
    assert "write" in str(caught.value)


@require_sandbox()
def test_program_bound_to_a_scope_reaches_only_it_through_a_scopeless_plugin(plugged) -> None:
    _two_tenants(plugged)
    result = plugged.execute("import athena\nathena.scopeless.find('launch')", scope="B")
    assert result.ok, result
    assert result.value == ["tenant B launch plan"]
    result = plugged.execute("import athena\nathena.scopeless.note('from the program')",
                             scope="B")
    assert result.ok, result
    assert plugged.get(result.value, scope="B").text == "from the program"


@require_sandbox()
def test_program_permissions_come_from_its_policy(plugged) -> None:
    a, _ = _two_tenants(plugged)
    readonly = {"name": "readonly", "permissions": ["read"]}
    result = plugged.execute(f"import athena\nathena.forget({a!r})", scope="A",
                             policy=readonly)
    assert not result.ok and "PermissionDeniedError" in result.error.type + \
        result.error.message, result
    assert "delete" in result.error.message
    assert plugged.get(a, scope="A")
    result = plugged.execute("import athena\nathena.scopeless.note('x')", scope="A",
                             policy=readonly)
    assert not result.ok and "write" in result.error.message, result


def test_a_host_binds_a_tenant_with_bound(plugged) -> None:
    a, _ = _two_tenants(plugged)
    with plugged.bound(scope="B"):
        assert plugged.api.get("scopeless.find")("launch") == ["tenant B launch plan"]
        with pytest.raises(ScopeViolationError):
            plugged.get(a, scope="A")
        with pytest.raises(ScopeViolationError), plugged.bound(scope="A"):
            pass  # an inner block cannot escape the outer one
    with plugged.bound(scope="B", policy={"permissions": ["read"]}), \
            pytest.raises(PermissionDeniedError, match="delete"):
        plugged.forget(a)
    assert plugged.get(a, scope="A")


def test_an_inner_bound_block_only_narrows(plugged) -> None:
    _, b = _two_tenants(plugged)
    tenant = calls.CallContext(scope="B", caller="test", permissions=frozenset({"read"}))
    with calls.bind(tenant), plugged.bound():  # no scope, no policy: still B, still read
        assert plugged.api.get("scopeless.find")("launch") == ["tenant B launch plan"]
        with pytest.raises(ScopeViolationError):
            plugged.recall("launch", scope="A")
        with pytest.raises(PermissionDeniedError, match="delete"):
            plugged.forget(b)
    with calls.bind(tenant), plugged.bound(policy="development"), \
            pytest.raises(PermissionDeniedError, match="write"):
        plugged.remember("a wider policy inside does not widen")
    assert plugged.get(b, scope="B")


@require_sandbox()
def test_a_program_never_gets_more_than_the_caller_that_started_it(plugged) -> None:
    _two_tenants(plugged)
    reader = {"name": "reader", "permissions": ["read", "execute"]}
    with plugged.bound(scope="B", policy=reader):
        with pytest.raises(PermissionDeniedError):
            plugged.remember("refused to the caller")
        result = plugged.execute("import athena\nathena.remember('nor through a program')",
                                 policy="strict")
    assert not result.ok and result.error.type == "PermissionDeniedError", result
    assert "write" in result.error.message
    assert plugged.recall("program", scope="B") == []


def test_import_cannot_relabel_a_stored_memory_to_link_to_it(athena) -> None:
    """A line repeating tenant A's id under scope B is skipped (the id exists); a second
    line must not use that relabelled copy to link to A's fact."""
    a, _ = _two_tenants(athena)
    with pytest.raises(ImportFormatError, match="lineage_id"):
        _import_lines(athena, _fact_record(a, "B", "relabelled"),
                      _fact_record("01HXKMPRTEDB00000000000002", "B", "linked",
                                   lineage_id=a, version=2))
    assert [f.text for f in athena.semantic.history(a, scope="A")] == [
        "tenant A launch code is 1234"]


@require_sandbox()
def test_a_javascript_program_is_refused_the_same_way(plugged) -> None:
    a, _ = _two_tenants(plugged)
    program = (f"try {{ await athena.forget({a!r}); console.log('deleted') }} "
               "catch (e) { console.log(JSON.stringify([e instanceof "
               "athena.errors.PermissionDeniedError, e.message, "
               "athena.operations.includes('forget')])) }")
    result = plugged.execute(program, language="javascript", scope="A",
                             policy={"name": "readonly", "permissions": ["read"]})
    assert result.ok, result
    refused, message, listed = json.loads(result.stdout)
    assert refused is True and "delete" in message and listed is False
    assert plugged.get(a, scope="A")

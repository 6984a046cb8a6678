"""Every operation a program may call, fuzzed through the bridge: the program gets the
error the host API raises, of the same class, and is never ended as a protocol violation.

Two Athena instances start from the same memories. A batch of calls (the operations
come from the API registry; the arguments from tests/_fuzz.py, with what a program can
pass: JSON data, lone surrogates, NUL, huge integers and strings, deep nesting, and
values with no JSON form) runs on the first through the host API, bound to the
program context the bridge uses, and on the second inside one sandboxed program that
reports, call by call, the class of the error it caught. The two lists must be equal,
every class an ``AthenaError``, and the program must end normally.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from athena_core import Athena, calls
from athena_core.errors import AthenaError
from athena_core.execution.bridge import callable_operations, program_context
from tests._fuzz import (
    EDGE_VALUES,
    UNWIRE,
    arguments,
    plain_arguments,
    resolve,
    seed,
    stored_ids,
    to_wire,
)
from tests.conftest import DATABASE_URL, _empty_database, make_config
from tests.sandbox import require_sandbox

pytestmark = require_sandbox()

SCOPE = "fuzz"
#: The strict preset, with room for a whole batch of calls in one program.
POLICY = {"extends": "strict", "limits": {"api_calls": 5_000, "wall_seconds": 300.0}}
#: Host API and program each report a call as "ok" or the class name of its error.
Outcome = str
Call = tuple[str, list[Any], dict[str, Any]]

_PROGRAM = UNWIRE + """
import json
import athena

outcomes = []
for name, args, kwargs in json.loads(CALLS, object_hook=unwire):
    function = athena
    for part in name.split("."):
        function = getattr(function, part)
    try:
        function(*args, **kwargs)
        outcomes.append("ok")
    except athena.AthenaError as exc:
        outcomes.append(type(exc).__name__)
    except Exception as exc:
        outcomes.append("untyped " + type(exc).__name__ + ": " + str(exc)[:200])
outcomes
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Iterator[tuple[Athena, Athena]]:
    """The host API's instance and the program's, on the same memories."""
    if DATABASE_URL:
        pytest.skip("two instances need two databases; the PostgreSQL run has one")
    _empty_database()
    opened = []
    for name in ("host", "bridge"):
        athena = Athena.open(config=make_config(
            tmp_path_factory.mktemp(name), memory={"default_scope": SCOPE},
            storage={"synchronous": "normal"}))
        seed(athena)
        opened.append(athena)
    yield opened[0], opened[1]
    for athena in opened:
        athena.close()


def _operations(athena: Athena) -> dict[str, Any]:
    policy = athena.execution.policy(POLICY)
    return {op.name: op.signature for op in callable_operations(athena.api, policy)}


def _on_host(athena: Athena, batch: list[Call]) -> list[Outcome]:
    ids = stored_ids(athena)
    context = program_context(athena.execution.policy(POLICY), scope=SCOPE, caller="fuzz")
    outcomes = []
    with calls.bind(context):
        for name, args, kwargs in batch:
            try:
                athena.api.get(name)(*resolve(args, ids),
                                     **{k: resolve(v, ids) for k, v in kwargs.items()})
                outcomes.append("ok")
            except AthenaError as exc:
                outcomes.append(type(exc).__name__)
            except Exception as exc:
                outcomes.append(f"untyped {type(exc).__name__}: {str(exc)[:200]}")
    return outcomes


def _in_program(athena: Athena, batch: list[Call]) -> list[Outcome]:
    ids = stored_ids(athena)
    wired = [[name, to_wire(resolve(args, ids)),
              {k: to_wire(resolve(v, ids)) for k, v in kwargs.items()}]
             for name, args, kwargs in batch]
    code = f"CALLS = {json.dumps(wired)!r}\n{_PROGRAM}"
    result = athena.execute(code, policy=POLICY, scope=SCOPE)
    # A protocol violation would end the program: status "error", a BridgeViolation.
    assert (result.status, result.error) == ("ok", None), (result.error, result.stderr[-2000:])
    return list(result.value)


def _same_outcomes(pair: tuple[Athena, Athena], batch: list[Call]) -> None:
    host, bridge = pair
    seed(host)
    seed(bridge)
    expected, got = _on_host(host, batch), _in_program(bridge, batch)
    assert not [o for o in expected if o.startswith("untyped")], expected
    differences = [(name, args, kwargs, want, have)
                   for (name, args, kwargs), want, have in zip(batch, expected, got, strict=True)
                   if want != have]
    assert not differences, differences[:5]


def test_the_bridge_fuzz_covers_every_operation_a_program_may_call(pair) -> None:
    host, _ = pair
    callable_names = set(_operations(host))
    # the strict policy grants neither `execute` nor `reveal`
    assert callable_names == {op.name for op in host.api
                              if not op.permissions & {"execute", "reveal"}}


def test_every_argument_at_every_edge_gets_the_host_error_in_a_program(pair) -> None:
    """Each argument of each operation in turn gets each edge value a program can pass."""
    edges = [value for value in EDGE_VALUES if not isinstance(value, datetime)]
    for name, signature in sorted(_operations(pair[0]).items()):
        plain = plain_arguments(signature)
        _same_outcomes(pair, [(name, [], {**plain, param: value})
                              for param in signature.parameters for value in edges])


@st.composite
def _batches(draw: st.DrawFn, operations: dict[str, Any]) -> list[Call]:
    names = draw(st.lists(st.sampled_from(sorted(operations)), min_size=20, max_size=40))
    return [(name, *draw(arguments(operations[name], program=True))) for name in names]


def test_fuzzed_batches_get_the_host_errors_in_a_program(pair) -> None:
    operations = _operations(pair[0])

    # A handful of programs (each runs a sandbox): a sixth of the profile's examples.
    @settings(max_examples=max(1, settings().max_examples // 6))
    @given(batch=_batches(operations))
    def check(batch: list[Call]) -> None:
        _same_outcomes(pair, batch)

    check()


def test_the_observed_untyped_errors_reach_a_program_as_invalid_argument_errors(pair) -> None:
    """Each ended the program as a protocol violation before the limits were declared."""
    program = """
import athena
calls = [lambda: athena.semantic.facts(offset=2**70),
         lambda: athena.episodic.record("x", kind="k" * 65),
         lambda: athena.episodic.record("x", session="s" * 256),
         lambda: athena.episodic.timeline(session="s\\x00"),
         lambda: athena.get("\\ud800"),
         lambda: athena.remember("x", importance=2**2000),
         lambda: athena.recall("x", as_of="9999-12-31T23:59:00-05:00"),
         lambda: athena.remember("x", metadata={"blob": b"bytes", 1: "one"})]
caught = []
for call in calls:
    try:
        call()
        caught.append("ok")
    except athena.errors.InvalidArgumentError as exc:
        caught.append(type(exc).__name__)
caught
"""
    _, bridge = pair
    result = bridge.execute(program, policy=POLICY, scope=SCOPE)
    assert (result.status, result.error) == ("ok", None), result.error
    assert result.value == ["InvalidArgumentError"] * 8

"""Learning from runs of plain calls that recur with different arguments, optional
arguments and optional steps (``athena_core.procedures.call_patterns`` and
``pattern_drafting``).

The drafting tests build patterns by hand; the learning tests record real runs through
``Athena.execute`` (the bubblewrap sandbox, the real audit log) and put the proposal
through the gate.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from athena_core import Athena
from athena_core.procedures.call_patterns import (
    Call,
    Pattern,
    PatternRun,
    Window,
    patterns_of,
    subsequence,
)
from athena_core.procedures.learning import learn, propose
from athena_core.procedures.pattern_drafting import ABSENT, draft_pattern, run_inputs
from tests.conftest import _empty_database, make_config
from tests.sandbox import require_sandbox

AT = datetime(2026, 12, 7, tzinfo=UTC)


def pattern(kind: str, operations: tuple[str, ...],
            runs: list[list[tuple[int, str, dict[str, Any]]]]) -> Pattern:
    """A pattern whose run ``n`` makes the calls ``(step, operation, arguments)``."""
    made = []
    for number, calls in enumerate(runs):
        window = Window(execution_id=f"e{number}", seq=number, at=AT, scope="default",
                        part=(0, len(calls)), kind=kind,
                        calls=tuple(Call(operation, arguments)
                                    for _, operation, arguments in calls),
                        context=f"program {number}")
        made.append(PatternRun(window, tuple(step for step, _, _ in calls)))
    optional = tuple(any(step not in run.positions for run in made)
                     for step in range(len(operations)))
    return Pattern(key="0" * 64, kind=kind, operations=operations, optional=optional,
                   runs=tuple(made))


def signature(code: str) -> dict[str, str]:
    """``run``'s keyword-only parameters: name -> annotation and default, as written."""
    function = next(node for node in ast.parse(code).body
                    if isinstance(node, ast.FunctionDef) and node.name == "run")
    return {arg.arg: ast.unparse(arg.annotation) + (
        "" if default is None else f" = {ast.unparse(default)}")
        for arg, default in zip(function.args.kwonlyargs, function.args.kw_defaults,
                                strict=True) if arg.annotation is not None}


def test_subsequence_places_items_leftmost() -> None:
    assert subsequence(["cd", "mv"], ["cd", "mkdir", "cd", "mv"]) == (0, 3)
    assert subsequence(["mv", "cd"], ["cd", "mv"]) is None
    assert subsequence([], ["cd"]) == ()
    # with steps that must be taken: not leftmost when leftmost would leave one out
    assert subsequence(["cd"], ["cd", "ls", "cd"], frozenset({2})) == (2,)
    assert subsequence(["cd", "ls"], ["cd", "mv", "ls"], frozenset({1})) is None
    assert subsequence([], ["cd"], frozenset({0})) is None


def mined(programs: list[list[str]], min_runs: int = 3) -> list[tuple[str, ...]]:
    """The patterns mined from programs that are lists of calls (operation names; the
    arguments differ from program to program), each as its steps, an optional step in
    brackets."""
    windows = []
    for number, names in enumerate(programs):
        calls = tuple(Call(name, {"value": f"{name} {number}"}) for name in names)
        windows += [Window(execution_id=f"e{number}", seq=number, at=AT, scope="default",
                           part=(first, length), kind="list",
                           calls=calls[first:first + length], context=f"program {number}")
                    for first in range(len(calls))
                    for length in range(2, len(calls) - first + 1)]
    whole = {f"e{number}": (0, len(names)) for number, names in enumerate(programs)}
    patterns, _ = patterns_of(windows, whole, min_runs=min_runs)
    return [tuple(f"[{name}]" if optional else name for name, optional in
                  zip(found.operations, found.optional, strict=True)) for found in patterns]


def test_runs_of_one_core_with_different_steps_after_it_are_one_pattern() -> None:
    # cd then cat, grep or ls: none of the pairs three times, cd then something thrice
    assert mined([["cd", "cat"], ["cd", "grep"], ["cd", "ls"]]) == [
        ("cd", "[cat]", "[grep]", "[ls]")]
    # steps before it and after it alike; the core is every run's
    assert mined([["diff", "touch", "echo"], ["du", "touch", "echo"],
                  ["touch", "echo", "wc"]]) == [("[diff]", "[du]", "touch", "echo", "[wc]")]
    # two different programs are not three
    assert mined([["cd", "cat"], ["cd", "grep"]]) == []
    # one step before it and another after it: not two different steps on one side
    assert mined([["a", "core"], ["core", "b"], ["a", "core"]]) == []


def test_a_pattern_another_has_every_run_of_is_left_out() -> None:
    # add -> size lies inside add -> relabel -> size in three programs: only the longer
    # pattern, whose relabel the fourth program leaves out
    assert mined([["add", "relabel", "size"], ["add", "relabel", "size"],
                  ["add", "relabel", "size"], ["add", "size"]]) == [
        ("add", "[relabel]", "size")]
    # of two of one length that have each other's runs, the first
    assert mined([["a", "b", "a"], ["a", "b"], ["a", "b"]]) == [("a", "b", "[a]")]


def test_arguments_become_typed_parameters_constants_defaults_and_lists_one_value() -> None:
    made = pattern("list", ("post.login", "post.send"), [
        [(0, "post.login", {"user": "ana"}),
         (1, "post.send", {"to": "ana", "tags": ["#a"], "size": 1, "mode": "fast"})],
        [(0, "post.login", {"user": "bo"}),
         (1, "post.send", {"to": "bo", "tags": ["#b", "#c", "#d"], "size": 2.5,
                           "mode": "fast"})],
        [(0, "post.login", {"user": "cy"}),
         (1, "post.send", {"to": "cy", "tags": [], "size": 3, "mode": "fast"})],
    ])
    draft, defaults = draft_pattern(made, docstring="Log in and send.")
    # user and to moved together: one parameter; tags of any length: one list; ints and
    # floats: float; the mode that never changed: a parameter defaulting to it
    assert signature(draft.code) == {"user": "str", "tags": "list[str]", "size": "float",
                                     "mode": "str = 'fast'"}
    assert defaults == {"mode": "fast"}
    assert "athena.post.send(to=user, tags=tags, size=size, mode=mode)" in draft.code
    assert draft.code.rstrip().endswith("return results")
    assert run_inputs(draft.parameters, defaults, 1) == {
        "user": "bo", "tags": ["#b", "#c", "#d"], "size": 2.5}


def test_an_optional_step_runs_when_its_own_varying_parameter_is_given() -> None:
    made = pattern("statements", ("fs.cd", "fs.touch", "fs.echo"), [
        [(0, "fs.cd", {"folder": "docs"}), (1, "fs.touch", {"file_name": "a.txt"}),
         (2, "fs.echo", {"content": "hi", "file_name": "a.txt"})],
        [(1, "fs.touch", {"file_name": "b.txt"}),
         (2, "fs.echo", {"content": "yo", "file_name": "b.txt"})],
        [(0, "fs.cd", {"folder": "tmp"}), (1, "fs.touch", {"file_name": "c.txt"})],
    ])
    draft, defaults = draft_pattern(made, docstring="Make a file.")
    assert made.optional == (True, False, True)
    code = draft.code
    assert "if folder is not None:\n        results.append(athena.fs.cd(folder=folder))" \
        in code
    # echo's file name is there only when echo is: a parameter of its own
    assert "if content is not None:\n        results.append(athena.fs.echo(" \
        "content=content, file_name=file_name_2))" in code
    # echo's other value without its guard is refused, not silently skipped
    assert "elif file_name_2 is not None:\n        raise ValueError('fs.echo runs only " \
        "when content is given; file_name_2 without it would be ignored')" in code
    assert code.rstrip().endswith("return results[-1]")
    assert signature(code) == {"folder": "str | None = None", "file_name": "str",
                               "content": "str | None = None",
                               "file_name_2": "str | None = None"}
    assert run_inputs(draft.parameters, defaults, 2) == {"folder": "tmp",
                                                         "file_name": "c.txt"}
    assert ABSENT is None
    assert draft.parameters[0].values == ("docs", None, "tmp")


def test_one_constant_of_one_name_is_one_parameter_whichever_runs_have_its_steps() -> None:
    # the token is the same wherever it is passed, by steps the runs make or leave out
    made = pattern("list", ("shop.login", "shop.book", "shop.cancel"), [
        [(0, "shop.login", {"user": "ana"}), (1, "shop.book", {"token": "t-1", "item": "a"})],
        [(0, "shop.login", {"user": "bo"}), (2, "shop.cancel", {"token": "t-1", "id": 7})],
        [(0, "shop.login", {"user": "cy"}), (1, "shop.book", {"token": "t-1", "item": "c"}),
         (2, "shop.cancel", {"token": "t-1", "id": 9})],
    ])
    draft, defaults = draft_pattern(made, docstring="Log in, book, cancel.")
    assert signature(draft.code) == {"user": "str", "token": "str = 't-1'",
                                     "item": "str | None = None", "id": "int | None = None"}
    assert "athena.shop.book(token=token, item=item)" in draft.code
    assert "athena.shop.cancel(token=token, id=id)" in draft.code
    assert defaults == {"token": "t-1", "item": None, "id": None}
    assert [run_inputs(draft.parameters, defaults, run) for run in range(3)] == [
        {"user": "ana", "item": "a"}, {"user": "bo", "id": 7},
        {"user": "cy", "item": "c", "id": 9}]


def test_a_step_with_nothing_varying_of_its_own_gets_a_flag() -> None:
    made = pattern("list", ("car.lock", "car.brake", "car.start"), [
        [(0, "car.lock", {"unlock": False}), (1, "car.brake", {"position": 1.0}),
         (2, "car.start", {"mode": "START"})],
        [(1, "car.brake", {"position": 1.0}), (2, "car.start", {"mode": "START"})],
        [(0, "car.lock", {"unlock": False}), (1, "car.brake", {"position": 1.0}),
         (2, "car.start", {"mode": "START"})],
    ])
    draft, defaults = draft_pattern(made, docstring="Start the car.")
    assert signature(draft.code) == {"unlock": "bool = False", "position": "float = 1.0",
                                     "mode": "str = 'START'", "with_lock": "bool = False"}
    assert "if with_lock:\n        results.append(athena.car.lock(unlock=unlock))" \
        in draft.code
    assert run_inputs(draft.parameters, defaults, 0) == {"with_lock": True}
    assert run_inputs(draft.parameters, defaults, 1) == {}


def test_an_argument_some_runs_leave_out_is_passed_only_when_given() -> None:
    made = pattern("list", ("post.login", "post.send"), [
        [(0, "post.login", {"user": "ana"}), (1, "post.send", {"text": "a"})],
        [(0, "post.login", {"user": "bo"}), (1, "post.send", {"text": "b", "tags": ["#x"]})],
        [(0, "post.login", {"user": "cy"}), (1, "post.send", {"text": "c"})],
    ])
    draft, _ = draft_pattern(made, docstring="Post.")
    assert "athena.post.send(text=text, **_given(tags=tags))" in draft.code
    assert "def _given(**arguments: Any) -> dict[str, Any]:" in draft.code
    assert signature(draft.code)["tags"] == "list[str] | None = None"


# --- learning from real runs -----------------------------------------------------------------

#: Three programs: note a topic and record that it was checked; the second also records an
#: outcome, the first also notes that it is done.
PROGRAMS = [
    'import athena\n[athena.remember("noted deploys", importance=0.25), '
    'athena.episodic.record("checked deploys", kind="action"), '
    'athena.remember("all done")]\n',
    'import athena\n[athena.remember("noted backups", importance=0.25), '
    'athena.episodic.record("checked backups", kind="action", outcome="fine")]\n',
    'import athena\n[athena.remember("noted billing", importance=0.25), '
    'athena.episodic.record("checked billing", kind="action")]\n',
]


@pytest.fixture(autouse=True)
def _own_database(request: pytest.FixtureRequest) -> None:
    """On PostgreSQL, where tests share one database, each test starts from an empty one."""
    _empty_database()


@require_sandbox()
def test_runs_differing_in_steps_and_arguments_are_learned_as_one_procedure(
        tmp_path: Path) -> None:
    with Athena.open(config=make_config(tmp_path)) as athena:
        ids = []
        for number, program in enumerate(PROGRAMS):
            result = athena.execute(program, scope=f"project:{number}")
            assert result.ok, result.error
            ids.append(result.id)
        [proposal] = propose(athena)
        assert propose(athena) == [proposal]  # deterministic
        assert proposal.evidence.calls == ("remember", "episodic.record", "remember")
        assert [run.execution_id for run in proposal.evidence.runs] == ids
        assert [run.part for run in proposal.evidence.runs] == [(0, 3), (0, 2), (0, 2)]
        assert [run.inputs for run in proposal.evidence.runs] == [
            {"text": "noted deploys", "content": "checked deploys", "with_remember": True},
            {"text": "noted backups", "content": "checked backups", "outcome": "fine"},
            {"text": "noted billing", "content": "checked billing"}]
        assert signature(proposal.code) == {
            "text": "str", "importance": "float = 0.25", "content": "str",
            "kind": "str = 'action'", "outcome": "str | None = None",
            "text_2": "str = 'all done'", "with_remember": "bool = False"}
        assert proposal.procedure.permissions == ("remember", "episodic.record")
        [outcome] = learn(athena).outcomes
        assert outcome.status == "active", outcome.validation
        assert outcome.validation is not None and [
            test.passed for test in outcome.validation.tests] == [True, True, True]
        assert len(athena.procedures.run(outcome.id, text="noted pagers",
                                         content="checked pagers")) == 2
        assert len(athena.procedures.run(outcome.id, text="noted pagers",
                                         content="checked pagers", with_remember=True)) == 3


@require_sandbox()
def test_a_pattern_needs_min_runs_different_programs(tmp_path: Path) -> None:
    with Athena.open(config=make_config(tmp_path)) as athena:
        for program in [PROGRAMS[0], PROGRAMS[1], PROGRAMS[0]]:
            assert athena.execute(program).ok
        assert propose(athena) == []
        assert [p.evidence.calls for p in propose(athena, min_runs=2)] == [
            ("remember", "episodic.record", "remember")]

"""Tests for a learned procedure, generated from its source runs.

The audit log keeps each program but not what it returned. So :func:`observe` re-runs
the source programs, **as recorded**, in the sandbox, one after another in one fresh
scratch scope (each sees what the ones before it wrote), under the procedure's policy,
and keeps what each returned. :func:`tests_for` then writes one test per observed run
which calls the procedure's ``run`` with that run's inputs - in the same order, so in
the gate's own fresh scratch scope each call meets the same memories - and asserts that
it returns the same value as the program did. Values are compared through
:func:`comparable`: as JSON data (what crosses the bridge), with memory ids and ISO-8601
times masked (a fresh scope gives new ones); a value whose text is long is compared by
the sha256 of its canonical JSON. The same function, copied into the tests, runs on both
sides, so the comparison is the same on the host and in the sandbox.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from athena_core.procedures.gate import procedure_policy, run_in_scratch

if TYPE_CHECKING:
    from athena_core.runtime import Athena

__all__ = ["MAX_TESTS", "Observation", "comparable", "digest", "observe", "tests_for"]

#: Source runs a proposal gets a test for (the oldest ones with different inputs).
MAX_TESTS = 5
#: Longest expected value written into a test as a literal; longer: its sha256.
MAX_LITERAL_CHARS = 2_000
_ID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")


@attrs.frozen
class Observation:
    """What a source program returned when re-run in the scratch scope."""

    execution_id: str
    inputs: Mapping[str, Any]
    #: :func:`comparable` of its value.
    value: Any


def comparable(value: Any) -> Any:
    """``value`` as JSON data (else ``{"repr": ...}``, as a program's value is reported),
    with memory ids replaced by ``<id>`` and ISO-8601 times by ``<time>``."""
    try:
        value = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        value = {"repr": repr(value)[:10_000]}

    def mask(item: Any) -> Any:
        if isinstance(item, str):
            return _TIME.sub("<time>", _ID.sub("<id>", item))
        if isinstance(item, list):
            return [mask(part) for part in item]
        if isinstance(item, dict):
            return {key: mask(part) for key, part in item.items()}
        return item

    return mask(value)


def digest(value: Any) -> str:
    """sha256 of ``value`` as canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()


def observe(athena: Athena, programs: Sequence[tuple[str, str, Mapping[str, Any]]],
            permissions: Sequence[str]) -> tuple[list[Observation], str | None]:
    """Re-run ``programs`` (``(execution_id, program, inputs)``, oldest first) in one fresh
    scratch scope under the policy of a procedure with ``permissions``. Returns what each
    returned, up to the first that did not succeed or whose value was cut, and what
    happened to that one (its status and error type, never a message)."""
    results = run_in_scratch(athena, [program for _, program, _ in programs],
                             procedure_policy(athena, permissions))
    observed: list[Observation] = []
    for (execution_id, _, inputs), result in zip(programs, results, strict=False):
        if not result.ok or result.value_truncated:
            error = result.error
            what = ("its value was cut at the output limit" if result.ok else
                    f"status {result.status}" + (f", {error.type} at line {error.line}"
                                                 if error is not None else ""))
            return observed, f"execution {execution_id} re-ran with {what}"
        observed.append(Observation(execution_id, dict(inputs), comparable(result.value)))
    return observed, None


def tests_for(procedure_id: str, entry: str, observations: Sequence[Observation], *,
              sensitive: Callable[[str], bool]) -> str:
    """The ``test_main.py`` of a learned procedure: one test per observation, in order.
    An expected value too long to write out, or one ``sensitive`` says holds a sensitive
    value (procedures may not), is compared by its digest."""
    tests = []
    uses_digest = False
    for number, observation in enumerate(observations, 1):
        call = f"{entry}(" + ", ".join(f"{name}={value!r}" for name, value in
                                       observation.inputs.items()) + ")"
        expected = repr(observation.value)
        if len(expected) > MAX_LITERAL_CHARS or sensitive(expected):
            uses_digest = True
            check = f"digest(comparable({call})) == {digest(observation.value)!r}"
        else:
            check = f"comparable({call}) == {expected}"
        tests.append(f'''

def test_source_run_{number}() -> None:
    """Execution {observation.execution_id}, re-run in order in a fresh scratch scope."""
    assert {check}
''')
    # The very functions the host compared with (this module's), copied.
    helpers = [f"_ID = re.compile({_ID.pattern!r})", f"_TIME = re.compile({_TIME.pattern!r})",
               "", "", inspect.getsource(comparable)]
    if uses_digest:
        helpers += ["", inspect.getsource(digest)]
    return (f'"""Tests generated from the source runs of {procedure_id}.\n\n'
            "Each source program, as recorded in the audit log, was re-run in the sandbox in "
            "one fresh\nscratch scope, in this order; each test calls run() with that run's "
            "inputs, in the same\norder, and asserts it returns what the program returned "
            "(memory ids and times masked).\n\"\"\"\n\n"
            + ("import hashlib\n" if uses_digest else "")
            + "import json\nimport re\nfrom typing import Any\n\n"
            f"from main import {entry}\n\n" + "\n".join(helpers) + "".join(tests))


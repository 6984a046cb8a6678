"""Learning procedures from the programs agents ran successfully.

:func:`propose` mines the audit log (:mod:`~athena_core.procedures.mining`) for program
shapes run with at least ``min_runs`` different sets of literals and drafts a
parameterised procedure for each (:mod:`~athena_core.procedures.drafting`): a
:class:`Proposal` with its code, typed parameters and evidence. It reads only and is
deterministic: the same audit log gives the same proposals in the same order.

:func:`learn` proposes, optionally asks the configured LLM provider to name, describe or
generalise each proposal, generates tests from the source runs
(:mod:`~athena_core.procedures.replay`), saves each proposal through the catalog (source
``learned``, ``derived_from`` its runs' execution ids) and puts it through the gate
(:func:`~athena_core.procedures.gate.admit`). Nothing becomes ``active`` except through
the gate, and with ``[procedures] require_approval`` not even then until a person
approves it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import attrs

from athena_core import calls
from athena_core._time import isoformat
from athena_core.errors import (
    InvalidArgumentError,
    NothingToLearnError,
    SensitiveValueError,
)
from athena_core.procedures.call_patterns import Pattern, mine_patterns
from athena_core.procedures.drafting import ENTRY, Parameter, draft
from athena_core.procedures.gate import admit as gate_admit
from athena_core.procedures.mining import Shape, fragment, mine
from athena_core.procedures.model import (
    Example,
    Procedure,
    ValidationReport,
    check_procedure_id,
)
from athena_core.procedures.pattern_drafting import draft_pattern, run_inputs
from athena_core.procedures.replay import MAX_TESTS, observe, tests_for

if TYPE_CHECKING:
    from athena_core.llm import LlmProvider
    from athena_core.runtime import Athena

__all__ = ["AUTHOR", "NAMESPACE", "Evidence", "EvidenceRun", "LearnReport", "Outcome",
           "Progress", "Proposal", "learn", "propose"]

#: The namespace of learned procedures' ids.
NAMESPACE = "learned"
#: The author of the commits learning makes.
AUTHOR = "athena-learn"
#: Source runs listed in a proposal's evidence and ``derived_from`` (the oldest).
MAX_EVIDENCE_RUNS = 20
#: Longest completion asked of an LLM provider.
MAX_TOKENS = 2_000
#: ``progress(phase, done, total)``: phases ``mining`` (records read) and ``verifying``
#: (proposals done).
Progress = Callable[[str, int, int], None]
OutcomeStatus = Literal["proposed", "candidate", "active", "rejected"]


@attrs.frozen
class EvidenceRun:
    """One source run: its execution, when and where it ran, and its literals as the
    proposal's inputs."""

    execution_id: str
    at: datetime
    scope: str
    inputs: Mapping[str, Any]
    #: The run of calls within the program the proposal was learned from, ``(first unit,
    #: units)`` (see :mod:`~athena_core.procedures.mining`); ``None``: the whole program.
    part: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"execution_id": self.execution_id, "at": isoformat(self.at),
                "scope": self.scope, "inputs": dict(self.inputs),
                "part": None if self.part is None else list(self.part)}


@attrs.frozen
class Evidence:
    """Why a procedure is proposed: the runs of one shape and what varied between them."""

    #: The operations every run called, in order.
    calls: tuple[str, ...]
    #: The source runs (at most :data:`MAX_EVIDENCE_RUNS`, the oldest), oldest first.
    runs: tuple[EvidenceRun, ...]
    #: How many successful runs the shape had in the records mined.
    total_runs: int
    #: Literals left in the code because every run had the same value.
    constant_literals: int
    #: sha256 of the shape (the abstracted program and its calls).
    shape: str

    def to_dict(self) -> dict[str, Any]:
        return {"calls": list(self.calls), "runs": [run.to_dict() for run in self.runs],
                "total_runs": self.total_runs, "constant_literals": self.constant_literals,
                "shape": self.shape}


@attrs.frozen
class Proposal:
    """A parameterised procedure drafted from repeated runs (not saved)."""

    procedure: Procedure
    code: str
    parameters: tuple[Parameter, ...]
    evidence: Evidence

    @property
    def id(self) -> str:
        return self.procedure.id

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "description": self.procedure.description,
                "permissions": list(self.procedure.permissions),
                "parameters": [{"name": p.name, "type": p.type, "values": list(p.values)}
                               for p in self.parameters],
                "evidence": self.evidence.to_dict(), "code": self.code}


@attrs.frozen
class Outcome:
    """What became of one proposal."""

    proposal: Proposal
    #: ``proposed`` (not saved: a dry run), ``candidate``, ``active``, or ``rejected``
    #: (nothing could be saved; ``reason`` says why).
    status: OutcomeStatus
    commit: str | None = None
    #: The gate's report (``None`` if it did not run).
    validation: ValidationReport | None = None
    tests: str | None = None
    #: It passed the gate and waits for a person (``[procedures] require_approval``).
    awaiting_approval: bool = False
    reason: str | None = None
    #: What the LLM provider changed, or why its answer was not used.
    notes: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.proposal.id

    def to_dict(self) -> dict[str, Any]:
        return {**self.proposal.to_dict(), "status": self.status, "commit": self.commit,
                "awaiting_approval": self.awaiting_approval, "reason": self.reason,
                "notes": list(self.notes), "tests": self.tests,
                "validation": None if self.validation is None else self.validation.to_dict()}


@attrs.frozen
class LearnReport:
    """What :func:`learn` did, proposal by proposal, in the order proposed."""

    outcomes: tuple[Outcome, ...]
    #: The LLM provider consulted, if any.
    llm_provider: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"llm_provider": self.llm_provider,
                "outcomes": [outcome.to_dict() for outcome in self.outcomes]}


# --- proposing ---------------------------------------------------------------------------

def propose(athena: Athena, *, scope: str | None = None, since: datetime | str | None = None,
            min_runs: int = 3, progress: Progress | None = None) -> list[Proposal]:
    """Proposals from the audit log's successful programs: one per shape run with at least
    ``min_runs`` different sets of literals (of ``scope`` and recorded from ``since``, if
    given), in the order of each shape's first run. Reads only.

    Raises :class:`~athena_core.errors.NothingToLearnError` when ``[audit]
    keep_programs`` is off: the log then holds no program text to learn from.
    """
    if isinstance(min_runs, bool) or not isinstance(min_runs, int) or min_runs < 2:
        raise InvalidArgumentError(f"min_runs must be a whole number of at least 2, not "
                                   f"{min_runs!r}.", argument="min_runs")
    if not athena.config.audit.keep_programs:
        raise NothingToLearnError(
            "There is nothing to learn from: [audit] keep_programs is false, so the audit "
            "log keeps no program text, only its sha256.",
            hint="Set [audit] keep_programs = true (the default) in athena.toml; programs "
                 "run from then on can be learned from.")
    report = None if progress is None else (lambda read: progress("mining", read, read))
    shapes = mine(athena.audit, scope=scope, since=since, min_runs=min_runs, progress=report)
    patterns, covered = mine_patterns(athena.audit, athena.api, scope=scope, since=since,
                                      min_runs=min_runs)
    # A shape whose every run a call pattern (or, for a single plain call, the operation
    # itself) stands for is not proposed.
    kept = [shape for shape in shapes
            if not all((run.execution_id, run.part) in covered for run in shape.runs)]
    several = [shape for shape in kept if len(shape.calls) >= 2]
    return [*(_pattern_proposal(pattern) for pattern in patterns),
            *(_proposal(athena, shape) for shape in several),
            *(_proposal(athena, shape) for shape in kept if len(shape.calls) < 2)]


def _proposal(athena: Athena, shape: Shape) -> Proposal:
    count = len(shape.runs)
    probe = draft(shape, athena.api, docstring="")
    operations = ", then ".join(dict.fromkeys(shape.calls))
    inputs = ", ".join(f"{p.name} ({p.type})" for p in probe.parameters)
    where = "successful programs" if all(run.part is None for run in shape.runs) else \
        "runs of these calls within successful programs"
    description = (f"Calls {operations} with the given {inputs}. Learned from {count} "
                   f"{where} that differed only in these values." if inputs else
                   f"Calls {operations}. Learned from {count} {where}, the same calls "
                   "in different programs.")[:1024]
    made = draft(shape, athena.api, docstring=description)
    runs = shape.runs[:MAX_EVIDENCE_RUNS]
    evidence = Evidence(
        calls=shape.calls, total_runs=count, constant_literals=made.constant_literals,
        shape=shape.key,
        runs=tuple(EvidenceRun(run.execution_id, run.at, run.scope, {
            p.name: run.values[p.slots[0]] for p in made.parameters}, run.part)
            for run in runs))
    procedure = Procedure.from_code(
        made.code, id=f"{NAMESPACE}/{_slug(shape.calls, shape.key)}",
        description=description, entry=ENTRY,
        permissions=made.permissions, tags=[NAMESPACE, _shape_tag(shape.key)],
        source="learned", derived_from=list(dict.fromkeys(run.execution_id for run in runs)))
    return Proposal(procedure=procedure, code=made.code, parameters=made.parameters,
                    evidence=evidence)


def _pattern_proposal(pattern: Pattern) -> Proposal:
    """The proposal for a call pattern (see :mod:`~athena_core.procedures.call_patterns`)."""
    steps = ", then ".join(f"{operation} (optional)" if optional else operation
                           for operation, optional in zip(pattern.operations,
                                                          pattern.optional, strict=True))
    count = len(pattern.runs)
    description = (f"Calls {steps}. Learned from {count} runs of these calls in "
                   f"{pattern.programs()} different successful programs; the arguments "
                   "that differed are parameters, the others parameters with the value "
                   "they always had as default, and an optional step runs when its first "
                   "parameter or its with_ flag is given.")[:1024]
    made, defaults = draft_pattern(pattern, docstring=description)
    runs = pattern.runs[:MAX_EVIDENCE_RUNS]
    evidence = Evidence(
        calls=pattern.operations, total_runs=count, constant_literals=0, shape=pattern.key,
        runs=tuple(EvidenceRun(run.window.execution_id, run.window.at, run.window.scope,
                               run_inputs(made.parameters, defaults, number),
                               run.window.part) for number, run in enumerate(runs)))
    procedure = Procedure.from_code(
        made.code, id=f"{NAMESPACE}/{_slug(pattern.operations, pattern.key)}",
        description=description, entry=ENTRY, permissions=made.permissions,
        tags=[NAMESPACE, _shape_tag(pattern.key)], source="learned",
        derived_from=list(dict.fromkeys(run.window.execution_id for run in runs)))
    return Proposal(procedure=procedure, code=made.code, parameters=made.parameters,
                    evidence=evidence)


def _slug(calls: tuple[str, ...], key: str) -> str:
    """``<operations>-<8 hex of the shape>``, e.g. ``recall-remember-1a2b3c4d``."""
    words = re.sub(r"[^a-z0-9]+", "-", "-".join(dict.fromkeys(calls)).lower()).strip("-")
    words = words[:55].rstrip("-") or "program"
    return f"{words}-{key[:8]}"


def _shape_tag(key: str) -> str:
    return f"shape:{key[:16]}"


# --- learning ----------------------------------------------------------------------------

def learn(athena: Athena, *, scope: str | None = None, since: datetime | str | None = None,
          min_runs: int = 3, admit: bool = True, progress: Progress | None = None
          ) -> LearnReport:
    """Propose (:func:`propose`), then for each proposal: ask the configured LLM provider
    (``[procedures] llm_provider``) to name, describe or generalise it; generate its tests
    from its source runs; save it (source ``learned``, author ``athena-learn``) and put it
    through the gate. With ``admit=False`` nothing is run or saved: each outcome is
    ``proposed``.

    A version the gate passes becomes ``active`` (or, with ``[procedures]
    require_approval``, stays a ``candidate`` awaiting approval); one it fails stays a
    ``candidate`` with its report; a proposal that cannot be saved (the provider's code
    does not parse, no source program ran again, or its code holds a sensitive value) is
    ``rejected`` and nothing is written. Needs a sandbox when ``admit`` is true.
    """
    from athena_core.llm import selected_llm_provider

    provider = selected_llm_provider(athena.config, athena.plugins)
    proposals = propose(athena, scope=scope, since=since, min_runs=min_runs,
                        progress=progress)
    outcomes = []
    for done, proposal in enumerate(proposals, 1):
        revised, notes, problem = _consult(athena, provider, proposal)
        if problem is not None:
            outcomes.append(Outcome(revised, "rejected", reason=problem, notes=notes))
        elif not admit:
            outcomes.append(Outcome(revised, "proposed", notes=notes))
        else:
            outcomes.append(_verified(athena, revised, notes))
        if progress is not None:
            progress("verifying", done, len(proposals))
    return LearnReport(outcomes=tuple(outcomes),
                       llm_provider=athena.config.procedures.llm_provider or None)


def _verified(athena: Athena, proposal: Proposal, notes: tuple[str, ...]) -> Outcome:
    """Generate the tests, save, and admit through the gate."""
    procedures = athena.procedures
    hold = athena.config.procedures.require_approval
    with calls.bind(calls.CallContext(scope=None, caller="learn")):
        sources = _test_sources(athena, proposal)
        observed, failure = observe(athena, sources, proposal.procedure.permissions)
        if not observed:
            return Outcome(proposal, "rejected", notes=notes, reason=(
                "its first source program did not succeed when re-run in a scratch scope "
                f"under the procedure's policy ({failure}), so there is no observed result "
                "to test it against"))
        if failure is not None:
            notes = (*notes, f"tested against {len(observed)} of {len(sources)} source runs: "
                             f"{failure}")
        tests = tests_for(proposal.id, ENTRY, observed,
                          sensitive=lambda text: athena.privacy.vault is not None
                          and bool(athena.privacy.detection.detect(text)))
        procedure = attrs.evolve(proposal.procedure, examples=[
            Example(dict(observation.inputs)) for observation in observed])
        runs = len(proposal.evidence.runs)
        try:
            version = procedures.catalog.save(
                procedure, proposal.code, tests, author=AUTHOR,
                message=f"learned from {runs} successful runs of one program shape "
                        f"({', '.join(proposal.evidence.calls)})")
        except SensitiveValueError as exc:  # its message names the type, not the value
            return Outcome(proposal, "rejected", notes=notes, reason=exc.message)
        # The same content learned before is the same version: its decision stands.
        record = version if version.validation is not None and version.status != "retired" \
            else gate_admit(athena, procedures.catalog, procedures.repository, proposal.id,
                            version.commit, hold=hold)
    passed = record.validation is not None and record.validation.passed
    status: OutcomeStatus = "active" if record.status == "active" else "candidate"
    return Outcome(attrs.evolve(proposal, procedure=procedure), status,
                   commit=record.commit, validation=record.validation, tests=tests,
                   awaiting_approval=passed and record.status == "candidate", notes=notes)


def _test_sources(athena: Athena, proposal: Proposal
                  ) -> list[tuple[str, str, Mapping[str, Any]]]:
    """The source runs to test against: the oldest with different inputs, with their
    programs (read back from the audit log; of a run of calls within a program, the
    run's own program, :func:`~athena_core.procedures.mining.fragment`)."""
    chosen: list[tuple[str, str, Mapping[str, Any]]] = []
    seen: list[Mapping[str, Any]] = []
    for run in proposal.evidence.runs:
        typed = {name: (type(value).__name__, value) for name, value in run.inputs.items()}
        if typed in seen:
            continue
        seen.append(typed)
        program = athena.audit.get(run.execution_id).payload
        if program is not None and run.part is not None:
            program = fragment(program, run.part)
        if program is not None:
            chosen.append((run.execution_id, program, run.inputs))
        if len(chosen) == MAX_TESTS:
            break
    return chosen


# --- the LLM provider --------------------------------------------------------------------

_PROMPT = """\
Athena, a memory system for AI agents, found a program that agents ran {runs} times with
different values, and turned it into a procedure (Python code with typed parameters).
Improve its name and description, and if you can, generalise its code.

Reply with one JSON object and nothing else, with any of these keys (leave out what you
would not change):
  "name": 1-40 lower-case letters, digits and single hyphens, saying what it does;
  "description": what it does and when to use it, at most 1,024 characters;
  "code": a replacement main.py. It must define {signature}, may import only the Python
          standard library's computing modules and athena, and may call only these Athena
          operations: {operations}. It is tested against what the original programs
          returned; if it fails, it is not used.

Operations the programs called, in order: {calls}
Parameters, with the values the runs used:
{parameters}
Current description: {description}
Current code (main.py):
{code}"""


def _consult(athena: Athena, provider: LlmProvider | None, proposal: Proposal
             ) -> tuple[Proposal, tuple[str, ...], str | None]:
    """The proposal as the provider would have it, notes on what it changed or why its
    answer was not used, and a problem that makes the proposal unusable (its code)."""
    if provider is None:
        return proposal, (), None
    signature = f"{ENTRY}(" + ", ".join(f"{p.name}: {p.type}" for p in proposal.parameters) \
        + ")"
    prompt = _PROMPT.format(
        runs=proposal.evidence.total_runs, signature=signature,
        operations=", ".join(proposal.procedure.permissions),
        calls=", ".join(proposal.evidence.calls),
        parameters="\n".join(f"  {p.name} ({p.type}): " + ", ".join(repr(v) for v in p.values)
                             for p in proposal.parameters),
        description=proposal.procedure.description, code=proposal.code)
    reply = _json_object(provider.complete(prompt, max_tokens=MAX_TOKENS))
    if reply is None:
        return proposal, ("the LLM provider's reply was not a JSON object; the proposal "
                          "is as drafted",), None
    notes: list[str] = []
    procedure = proposal.procedure
    name = reply.get("name")
    if isinstance(name, str):
        try:
            renamed = check_procedure_id(f"{NAMESPACE}/{name}", argument="name")
        except InvalidArgumentError:
            notes.append("the LLM provider's name is not lower-case letters, digits and "
                         "single hyphens; the drafted id is kept")
        else:
            if _taken_by_another_shape(athena, renamed, proposal.evidence.shape):
                notes.append(f"the LLM provider's name {renamed} is another procedure's; "
                             "the drafted id is kept")
            else:
                procedure = attrs.evolve(procedure, id=renamed)
                notes.append(f"named {renamed} by the LLM provider")
    description = reply.get("description")
    if isinstance(description, str):
        try:
            procedure = attrs.evolve(procedure, description=description)
        except InvalidArgumentError:
            notes.append("the LLM provider's description is blank or longer than 1,024 "
                         "characters; the drafted one is kept")
        else:
            notes.append("described by the LLM provider")
    revised = attrs.evolve(proposal, procedure=procedure)
    code = reply.get("code")
    if not isinstance(code, str):
        return revised, tuple(notes), None
    fields = procedure.manifest_fields()
    del fields["input_schema"], fields["output_schema"]
    try:
        procedure = Procedure.from_code(code, **fields)
    except InvalidArgumentError as exc:
        return revised, (*notes, "code by the LLM provider"), (
            f"the LLM provider's code does not parse or has no usable {ENTRY}() signature "
            f"({exc.message[:200]})")
    notes.append("code by the LLM provider (tested against the source runs like drafted "
                 "code)")
    return attrs.evolve(revised, procedure=procedure, code=code), tuple(notes), None


def _json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in a model's reply (surrounding prose and code fences ignored)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        value = json.loads(text[start:end + 1])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _taken_by_another_shape(athena: Athena, procedure_id: str, shape: str) -> bool:
    from athena_core.errors import ProcedureNotFoundError

    try:
        entry = athena.procedures.catalog.get(procedure_id)
    except ProcedureNotFoundError:
        return False
    return _shape_tag(shape) not in entry.tags

"""Learning procedures from the audit log's successful programs.

Real runs are recorded through ``Athena.execute`` (the bubblewrap sandbox, the real audit
log); learning mines them, generates code and tests, and puts each proposal through the
gate, whose tests run in the sandbox against scratch scopes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from athena_core import Athena, hookimpl
from athena_core.errors import InvalidArgumentError, NothingToLearnError, UnknownNameError
from athena_core.procedures.learning import LearnReport, Proposal, learn, propose
from tests.conftest import _empty_database, make_config
from tests.sandbox import require_sandbox

pytestmark = require_sandbox()

#: Recalls with a query, remembers a note, returns the texts recalled.
NOTE = '''\
import athena

hits = athena.recall({query!r}, k=3)
athena.remember({note!r})
[hit.text for hit in hits]
'''
NOTE_RUNS = [("deploys", "looked into deploys", "project:web"),
             ("backups", "looked into backups", "project:web"),
             ("billing", "looked into billing", "project:ops")]
#: Only two runs: too few. (Wrapped in ``len`` like ``REFUSED`` below.)
TWICE = 'import athena\nlen(athena.episodic.record({content!r}, kind="action"))\n'
#: Three runs, the same literals each time: nothing varies.
SAME = 'import athena\nlen(athena.recall("alerts", k=5))\n'
#: Three runs with different queries that all fail.
FAILING = 'import athena\nathena.recall({query!r}, k=1)\n1 / 0\n'
#: Three runs whose value (a string hash, seeded per process) no rerun reproduces.
UNREPEATABLE = 'import athena\nathena.remember({note!r})\nhash({note!r})\n'
#: Three runs that pass an episodic layer to remember, which a procedure declaring only
#: ``remember`` may not reach: no rerun under the procedure's policy succeeds. (The call
#: is wrapped in ``len``: a program that is a single plain call is never proposed, its
#: procedure would be the operation again.)
REFUSED = 'import athena\nlen(athena.remember({note!r}, layer="episodic"))\n'


def record_runs(athena: Athena) -> dict[str, list[str]]:
    """Run every program above for real; return the execution ids of each family."""
    ids: dict[str, list[str]] = {"note": [], "twice": [], "same": [], "failing": [],
                                 "unrepeatable": [], "refused": []}
    for query, note, scope in NOTE_RUNS:
        result = athena.execute(NOTE.format(query=query, note=note), scope=scope)
        assert result.ok, result.error
        ids["note"].append(result.id)
    for content in ("called the vendor", "paged the on-call"):
        ids["twice"].append(athena.execute(TWICE.format(content=content)).id)
    for _ in range(3):
        ids["same"].append(athena.execute(SAME).id)
    for query in ("one", "two", "three"):
        result = athena.execute(FAILING.format(query=query))
        assert result.status == "error"
        ids["failing"].append(result.id)
    for note in ("first hash", "second hash", "third hash"):
        result = athena.execute(UNREPEATABLE.format(note=note))
        assert result.ok, result.error
        ids["unrepeatable"].append(result.id)
    for note in ("met the auditors", "met the vendor", "met the board"):
        result = athena.execute(REFUSED.format(note=note))
        assert result.ok, result.error
        ids["refused"].append(result.id)
    return ids


@pytest.fixture(autouse=True)
def _own_database(request: pytest.FixtureRequest) -> None:
    """On PostgreSQL every test shares one database: a test with an instance of its own
    starts from an empty one (the tests sharing ``recorded``, which run first, keep it)."""
    if "recorded" not in request.fixturenames:
        _empty_database()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[Athena, dict[str, list[str]]]]:
    _empty_database()
    with Athena.open(config=make_config(tmp_path_factory.mktemp("learn"))) as opened:
        yield opened, record_runs(opened)


def by_source(proposals: list[Proposal], ids: list[str]) -> Proposal:
    [found] = [p for p in proposals if set(p.procedure.derived_from) == set(ids)]
    return found


def test_propose_finds_the_repeated_shape_and_nothing_else(
        recorded: tuple[Athena, dict[str, list[str]]]) -> None:
    athena, ids = recorded
    proposals = propose(athena)
    sources = [set(p.procedure.derived_from) for p in proposals]
    assert sources == [set(ids["note"]), set(ids["unrepeatable"]), set(ids["refused"])]
    note = by_source(proposals, ids["note"])
    assert [(p.name, p.type, p.values) for p in note.parameters] == [
        ("query", "str", ("deploys", "backups", "billing")),
        ("text", "str", ("looked into deploys", "looked into backups",
                         "looked into billing"))]
    assert note.procedure.source == "learned"
    assert note.procedure.derived_from == tuple(ids["note"])
    assert note.procedure.permissions == ("recall", "remember")
    assert note.procedure.input_schema["required"] == ["query", "text"]
    assert note.procedure.input_schema["properties"]["query"] == {"type": "string"}
    assert note.evidence.calls == ("recall", "remember")
    assert [run.execution_id for run in note.evidence.runs] == ids["note"]
    assert [run.scope for run in note.evidence.runs] == [s for _, _, s in NOTE_RUNS]
    assert [run.inputs for run in note.evidence.runs] == [
        {"query": q, "text": n} for q, n, _ in NOTE_RUNS]
    assert note.evidence.constant_literals == 1  # k=3
    # The varying literals became parameters; the constant one stayed.
    tree = ast.parse(note.code)
    [function] = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert [arg.arg for arg in function.args.args] == ["query", "text"]
    literals = [node.value for node in ast.walk(function) if isinstance(node, ast.Constant)
                and not isinstance(node.value, str)]
    assert literals == [3]
    assert "deploys" not in note.code
    assert isinstance(function.body[-1], ast.Return)


def test_propose_is_deterministic(recorded: tuple[Athena, dict[str, list[str]]]) -> None:
    athena, _ = recorded
    first, second = propose(athena), propose(athena)
    assert [(p.procedure, p.code) for p in first] == [(p.procedure, p.code) for p in second]


def test_mining_pages_through_the_log(recorded: tuple[Athena, dict[str, list[str]]],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from athena_core.procedures import mining

    athena, _ = recorded
    whole = propose(athena)
    monkeypatch.setattr(mining, "_PAGE", 2)
    pages: list[int] = []
    paged = propose(athena, progress=lambda phase, done, total: pages.append(done))
    assert [(p.procedure, p.code) for p in paged] == [(p.procedure, p.code) for p in whole]
    successful = athena.audit.records(kind="execution", status="ok", limit=10_000)
    assert pages[:3] == [2, 4, 6] and pages[-1] == len(successful)  # two at a time


def test_scope_and_min_runs_narrow_what_is_mined(
        recorded: tuple[Athena, dict[str, list[str]]]) -> None:
    athena, ids = recorded
    # Two of the three note runs are in project:web: too few there.
    assert propose(athena, scope="project:web") == []
    assert {frozenset(p.procedure.derived_from) for p in propose(
        athena, scope="project:web", min_runs=2)} == {frozenset(ids["note"][:2])}
    # Two runs with different contents are enough once two are asked for.
    twice = {frozenset(p.procedure.derived_from) for p in propose(athena, min_runs=2)}
    assert frozenset(ids["twice"]) in twice
    assert frozenset(ids["same"]) not in twice and frozenset(ids["failing"]) not in twice


def test_learn_admits_a_sound_proposal_through_the_gate_in_the_sandbox(
        recorded: tuple[Athena, dict[str, list[str]]]) -> None:
    athena, ids = recorded
    seen: list[tuple[str, int, int]] = []
    report = learn(athena, progress=lambda phase, done, total: seen.append(
        (phase, done, total)))
    assert isinstance(report, LearnReport)
    note = next(o for o in report.outcomes if set(o.proposal.procedure.derived_from)
                == set(ids["note"]))
    assert note.status == "active", note.validation
    assert note.validation is not None and note.validation.passed
    # One generated test per source run, each run in the sandbox and passed.
    assert [(t.name, t.passed) for t in note.validation.tests] == [
        ("test_source_run_1", True), ("test_source_run_2", True), ("test_source_run_3", True)]
    version = athena.procedures.catalog.version(note.id, note.commit)
    assert version.procedure.source == "learned"
    assert version.procedure.derived_from == tuple(ids["note"])
    assert "from main import run" in version.tests and ids["note"][0] in version.tests
    assert ("verifying", len(report.outcomes), len(report.outcomes)) in seen
    # It runs like any active procedure: the second run recalls what the first noted.
    athena.procedures.run(note.id, query="pagers", text="looked into pagers")
    again = athena.procedures.run(note.id, query="pagers", text="looked into pagers")
    assert "looked into pagers" in again


def test_a_proposal_whose_tests_cannot_pass_stays_a_candidate(
        recorded: tuple[Athena, dict[str, list[str]]]) -> None:
    athena, ids = recorded
    report = learn(athena)
    outcome = next(o for o in report.outcomes if set(o.proposal.procedure.derived_from)
                   == set(ids["unrepeatable"]))
    assert outcome.status == "candidate"
    assert outcome.validation is not None and outcome.validation.failed_stages == ("tests",)
    assert [t.passed for t in outcome.validation.tests] == [False, False, False]
    assert athena.procedures.catalog.get(outcome.id).active_commit is None
    with pytest.raises(InvalidArgumentError) as raised:  # nobody can approve it either
        athena.procedures.approve(outcome.id)
    assert raised.value.argument == "commit"


def test_a_proposal_no_source_program_reruns_for_is_rejected_and_not_saved(
        recorded: tuple[Athena, dict[str, list[str]]]) -> None:
    athena, ids = recorded
    outcome = next(o for o in learn(athena).outcomes
                   if set(o.proposal.procedure.derived_from) == set(ids["refused"]))
    assert outcome.status == "rejected" and outcome.commit is None
    assert "PermissionDeniedError at line 2" in (outcome.reason or "")
    assert outcome.id not in [entry.id for entry in athena.procedures.catalog.list()]


def test_learning_again_makes_no_new_version(
        recorded: tuple[Athena, dict[str, list[str]]]) -> None:
    athena, ids = recorded
    def note(report: LearnReport) -> tuple[str, str | None, str]:
        [found] = [(o.id, o.commit, o.status) for o in report.outcomes
                   if o.proposal.procedure.derived_from == tuple(ids["note"])]
        return found

    first = note(learn(athena))
    assert note(learn(athena)) == first
    assert len(athena.procedures.catalog.versions(first[0])) == 1


def test_dry_run_saves_nothing(tmp_path: Path) -> None:
    with Athena.open(config=make_config(tmp_path)) as athena:
        for query, note, _ in NOTE_RUNS:
            athena.execute(NOTE.format(query=query, note=note))
        report = learn(athena, admit=False)
        assert len(report.outcomes) == 1 and report.outcomes[0].status == "proposed"
        assert report.outcomes[0].commit is None
        assert athena.procedures.catalog.list() == []


def test_without_program_text_there_is_nothing_to_learn(tmp_path: Path) -> None:
    config = make_config(tmp_path, audit={"keep_programs": False})
    with Athena.open(config=config) as athena:
        for query, note, _ in NOTE_RUNS:
            athena.execute(NOTE.format(query=query, note=note))
        with pytest.raises(NothingToLearnError) as raised:
            propose(athena)
        assert "keep_programs" in raised.value.message
        with pytest.raises(NothingToLearnError):
            learn(athena)


# --- LLM providers ---------------------------------------------------------------------------

class ScriptedProvider:
    """Answers every prompt with one fixed reply, and keeps the prompts it got."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def complete(self, prompt: str, *, max_tokens: int) -> str:
        assert max_tokens > 0
        self.prompts.append(prompt)
        return self.reply


class ProviderPlugin:
    def __init__(self, provider: ScriptedProvider) -> None:
        self.provider = provider

    @hookimpl
    def athena_register_llm_providers(self, register: Any) -> None:
        register("scripted", lambda context: self.provider)


def with_provider(tmp_path: Path, reply: str, *, name: str = "scripted"
                  ) -> tuple[Athena, ScriptedProvider]:
    provider = ScriptedProvider(reply)
    config = make_config(tmp_path, procedures={"llm_provider": name})
    athena = Athena.open(config=config, plugins=[ProviderPlugin(provider)])
    for query, note, _ in NOTE_RUNS:
        athena.execute(NOTE.format(query=query, note=note))
    return athena, provider


def test_a_configured_provider_names_and_describes_a_proposal(tmp_path: Path) -> None:
    reply = ('{"name": "look-into-topic", "description": "Recall a topic, note that it '
             'was looked into, and return what was recalled."}')
    athena, provider = with_provider(tmp_path, reply)
    with athena:
        report = learn(athena)
        [outcome] = report.outcomes
        assert outcome.id == "learned/look-into-topic"
        assert outcome.proposal.procedure.description.startswith("Recall a topic")
        assert outcome.status == "active", outcome.validation
        assert len(provider.prompts) == 1 and "athena.recall(query, k=3)" in provider.prompts[0]


def test_a_providers_bad_code_stays_a_candidate(tmp_path: Path) -> None:
    bad = ('import athena\\n\\n\\ndef run(query: str, text: str) -> list[str]:\\n'
           '    \\"\\"\\"Recall a topic.\\"\\"\\"\\n    athena.remember(text)\\n'
           '    return [query]\\n')
    athena, _ = with_provider(tmp_path, '{"code": "' + bad + '"}')
    with athena:
        [outcome] = learn(athena).outcomes
        assert "return [query]" in outcome.proposal.code
        assert outcome.status == "candidate"
        assert outcome.validation is not None and "tests" in outcome.validation.failed_stages


def test_a_provider_whose_code_does_not_parse_is_rejected_and_nothing_saved(
        tmp_path: Path) -> None:
    athena, _ = with_provider(tmp_path, '{"code": "def run(:"}')
    with athena:
        [outcome] = learn(athena).outcomes
        assert outcome.status == "rejected" and outcome.commit is None
        assert "does not parse" in (outcome.reason or "")
        assert athena.procedures.catalog.list() == []


def test_a_proposal_holding_a_sensitive_value_is_rejected_and_nothing_saved(
        tmp_path: Path) -> None:
    # a learned procedure is kept in git and shared by every scope: code holding a
    # password (here the provider's; a constant of a drafted one alike) is never saved,
    # and learning goes on
    leaky = ('import athena\\n\\n\\ndef run(query: str, text: str) -> list[str]:\\n'
             '    \\"\\"\\"Recall a topic.\\"\\"\\"\\n'
             '    hits = athena.recall(query, k=3)\\n'
             '    athena.remember(text, metadata=dict(password=\'Tr0ub4dor-Zebra-93\'))\\n'
             '    return [hit.text for hit in hits]\\n')
    athena, _ = with_provider(tmp_path, '{"code": "' + leaky + '"}')
    with athena:
        [outcome] = learn(athena).outcomes
        assert outcome.status == "rejected" and outcome.commit is None
        assert "sensitive value" in (outcome.reason or "")
        assert "Tr0ub4dor" not in (outcome.reason or "")
        assert athena.procedures.catalog.list() == []


def test_an_unknown_provider_is_a_config_error_listing_the_installed_ones(
        tmp_path: Path) -> None:
    athena, provider = with_provider(tmp_path, "{}", name="nonesuch")
    with athena, pytest.raises(UnknownNameError) as raised:
        learn(athena)
    assert raised.value.choices == ("scripted",) and provider.prompts == []


def test_config_check_reports_an_unknown_provider(tmp_path: Path) -> None:
    from athena_core.selection import check_selected_plugins

    config = make_config(tmp_path, procedures={"llm_provider": "nonesuch"})
    host = Athena.plugin_host(config, plugins=[ProviderPlugin(ScriptedProvider("{}"))])
    [(what, error)] = check_selected_plugins(config, host)
    assert what == "llm provider 'nonesuch'" and isinstance(error, UnknownNameError)
    assert "'scripted'" in error.message


def test_no_provider_configured_uses_no_model(tmp_path: Path) -> None:
    provider = ScriptedProvider("{}")
    with Athena.open(config=make_config(tmp_path),
                     plugins=[ProviderPlugin(provider)]) as athena:
        for query, note, _ in NOTE_RUNS:
            athena.execute(NOTE.format(query=query, note=note))
        [outcome] = learn(athena).outcomes
        assert outcome.status == "active" and provider.prompts == []


# --- approval ------------------------------------------------------------------------------

def test_with_require_approval_a_passing_version_waits_for_a_person(tmp_path: Path) -> None:
    config = make_config(tmp_path, procedures={"require_approval": True})
    with Athena.open(config=config) as athena:
        for query, note, _ in NOTE_RUNS:
            athena.execute(NOTE.format(query=query, note=note))
        [outcome] = learn(athena).outcomes
        assert outcome.status == "candidate" and outcome.awaiting_approval
        assert outcome.validation is not None and outcome.validation.passed
        assert athena.procedures.catalog.get(outcome.id).active_commit is None
        # Validating again passes again, and still waits.
        again = athena.procedures.validate(outcome.id)
        assert again["status"] == "candidate" and again["validation"]["checks"][-1]["passed"]
        approved = athena.procedures.approve(outcome.id)
        assert approved["status"] == "active" and approved["commit"] == outcome.commit


# --- runs of calls within programs -----------------------------------------------------------

#: A two-call run (note something, recall a topic) that three programs share with different
#: literals, each around it other statements of its own.
SHARED_RUN = 'athena.remember({note!r}, importance=0.25)\nlen(athena.recall({query!r}, k=2))\n'
AROUND = [
    ('import athena\n\n{run}len(athena.recall("anything", k=1))\n',
     "noted deploys", "deploys"),
    ('import athena\n\nathena.episodic.record("opened the console", kind="action")\n{run}',
     "noted backups", "backups"),
    ('import athena\n\nstart = 40 + 2\n{run}athena.remember("done", importance=0.5)\nstart\n',
     "noted billing", "billing"),
]


def test_a_run_of_calls_shared_by_different_programs_is_proposed_and_admitted(
        tmp_path: Path) -> None:
    with Athena.open(config=make_config(tmp_path)) as athena:
        ids = []
        for around, note, query in AROUND:
            result = athena.execute(around.format(run=SHARED_RUN.format(note=note,
                                                                         query=query)))
            assert result.ok, result.error
            ids.append(result.id)
        [proposal] = propose(athena)
        assert proposal.evidence.calls == ("remember", "recall")
        assert [run.execution_id for run in proposal.evidence.runs] == ids
        # where the run is in each program: its first statement (after the imports) and
        # its length in statements
        assert [run.part for run in proposal.evidence.runs] == [(0, 2), (1, 2), (1, 2)]
        assert [(p.name, p.type, p.values) for p in proposal.parameters] == [
            ("text", "str", ("noted deploys", "noted backups", "noted billing")),
            ("query", "str", ("deploys", "backups", "billing"))]
        assert proposal.procedure.derived_from == tuple(ids)
        assert proposal.procedure.permissions == ("remember", "recall")
        tree = ast.parse(proposal.code)
        [function] = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        assert [arg.arg for arg in function.args.args] == ["text", "query"]
        assert "episodic" not in proposal.code and "start" not in proposal.code
        # tested against the run itself, re-run on its own from an empty scratch scope
        [outcome] = learn(athena).outcomes
        assert outcome.status == "active", outcome.validation
        assert outcome.validation is not None and [t.passed for t in outcome.validation.tests] \
            == [True, True, True]
        assert outcome.tests is not None and ids[1] in outcome.tests
        assert athena.procedures.run(outcome.id, text="noted pagers", query="pagers") == 1


def test_a_shared_run_needs_min_runs_different_programs(tmp_path: Path) -> None:
    with Athena.open(config=make_config(tmp_path)) as athena:
        # the run in three programs, but two of them the same program with the same
        # literals; and a run of a single call is never proposed on its own
        for (around, _, _), (note, query) in zip([AROUND[0], AROUND[1], AROUND[0]],
                                                   [("a", "x"), ("b", "y"), ("a", "x")],
                                                   strict=True):
            result = athena.execute(around.format(run=SHARED_RUN.format(note=note,
                                                                         query=query)))
            assert result.ok, result.error
        assert propose(athena) == []
        assert [p.evidence.calls for p in propose(athena, min_runs=2)] == [("remember",
                                                                             "recall")]


def test_a_run_repeated_unchanged_in_different_programs_has_no_parameters(
        tmp_path: Path) -> None:
    with Athena.open(config=make_config(tmp_path)) as athena:
        for around, _, _ in AROUND:
            result = athena.execute(around.format(run=SHARED_RUN.format(note="same note",
                                                                         query="same")))
            assert result.ok, result.error
        [proposal] = propose(athena)
        assert proposal.parameters == () and proposal.evidence.calls == ("remember", "recall")
        assert "def run() -> Any:" in proposal.code and "'same note'" in proposal.code
        [outcome] = learn(athena).outcomes
        assert outcome.status == "active", outcome.validation
        assert outcome.validation is not None and len(outcome.validation.tests) == 1


def test_a_learned_test_compares_a_value_that_reads_as_sensitive_by_its_digest() -> None:
    """A source run's value that reads as a sensitive value (a program returning a hash
    that passes for a card number) is never written into the learned tests: procedures
    may hold none (docs/privacy.md). The digest comparison still checks it exactly."""
    from athena_core.procedures.replay import Observation, digest, tests_for

    seen = [Observation("01EXAMPLE", {"text": "third hash"}, 2126675139353276195)]
    plain = tests_for("learned/x", "run", seen, sensitive=lambda text: False)
    assert "== 2126675139353276195" in plain
    guarded = tests_for("learned/x", "run", seen, sensitive=lambda text: "2126" in text)
    assert "2126675139353276195" not in guarded
    assert f"digest(comparable(run(text='third hash'))) == {digest(2126675139353276195)!r}" \
        in guarded
    namespace: dict[str, object] = {}
    exec(compile(guarded.replace("from main import run\n", ""), "test_main.py", "exec"),
         namespace)
    namespace["run"] = lambda text: 2126675139353276195
    namespace["test_source_run_1"]()  # the digest form passes on the same value

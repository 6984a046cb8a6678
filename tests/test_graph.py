"""The knowledge graph: facts in two times, supersession in one slot, cascades, queries,
extraction, forgetting and bad input (``athena_core.graph``; docs/layers.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from athena_core import Athena, hookimpl
from athena_core.errors import (
    CascadeCycleError,
    GraphFactNotFoundError,
    GraphInputError,
    InvalidIntervalError,
    MissingExtraError,
    ScopeViolationError,
    UnknownEntityError,
    UnknownRelationTypeError,
)
from athena_core.storage.models import GraphEntityRow, GraphFactRow
from tests.conftest import _empty_database, make_config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import graph_timelines


def _people(athena: Athena) -> Any:
    graph = athena.graph
    graph.declare("lives_in", functional=True)
    graph.declare("commute_time", functional=True)
    graph.declare("visited")
    graph.declare("manager")
    for name, type_ in (("Alice", "person"), ("Bob", "person"), ("Paris", "city"),
                        ("London", "city"), ("Rome", "city")):
        graph.entity(name, type_)
    return graph


def _rows(athena: Athena) -> list[dict[str, Any]]:
    with athena.storage.snapshot() as db:
        return [dict(row._mapping) for row in db.execute(
            select(GraphFactRow.__table__).order_by(GraphFactRow.pk))]


def _values(facts: list[dict[str, Any]]) -> list[Any]:
    return [f["object"] if f["object"] is not None else f["value"] for f in facts]


def test_a_move_supersedes_the_old_home_and_what_was_believed_stays_readable(athena) -> None:
    graph = _people(athena)
    paris = graph.relate("Alice", "lives_in", "Paris", valid_from="2020-01-01")
    london = graph.relate("Alice", "lives_in", "London", valid_from="2022-01-01")
    assert _values(graph.current("Alice")) == ["London"]
    # What was true in 2021, as we believe now; and 2023 as we believed before the move.
    assert _values(graph.as_of("Alice", valid_time="2021-06-01")) == ["Paris"]
    assert _values(graph.as_of("Alice", valid_time="2023-01-01",
                               record_time=paris["recorded_at"])) == ["Paris"]
    assert _values(graph.as_of("Alice", valid_time="2023-01-01",
                               record_time=london["recorded_at"])) == ["London"]
    history = graph.history("Alice", predicate="lives_in")
    assert [(f["object"], f["retracted_by"]) for f in history] == [
        ("Paris", london["id"]), ("Paris", None), ("London", None)]
    assert history[1]["derived_from"] == paris["id"]
    assert history[1]["valid_to"].startswith("2022-01-01")


def test_a_correction_adds_records_and_never_changes_a_stored_interval(athena) -> None:
    graph = _people(athena)
    first = graph.relate("Alice", "lives_in", "Paris", valid_from="2020-01-01")
    graph.relate("Alice", "lives_in", "London", valid_from="2022-01-01")
    with pytest.raises(GraphInputError, match="already retracted"):
        graph.correct(first["id"], object="Rome")
    remainder = graph.as_of("Alice", valid_time="2021-01-01")[0]  # Paris until the move
    before = _rows(athena)
    corrected = graph.correct(remainder["id"], object="Rome", valid_from="2019-06-01")
    graph.retract(corrected["id"], reason="never lived there")
    after = {row["pk"]: row for row in _rows(athena)}
    for row in before:
        now = after[row["pk"]]
        changed = {key for key in row if row[key] != now[key]}
        assert changed <= {"retracted_at", "retracted_by", "reason"}
        if changed:  # a record interval closes once, from open
            assert row["retracted_at"] is None and now["retracted_at"] is not None
    assert len(after) > len(before)
    assert _values(graph.as_of("Alice", valid_time="2021-01-01",
                               record_time=first["recorded_at"])) == ["Paris"]
    assert _values(graph.as_of("Alice", valid_time="2021-01-01",
                               record_time=corrected["recorded_at"])) == ["Rome"]
    assert _values(graph.as_of("Alice", valid_time="2021-01-01")) == []
    assert _values(graph.current("Alice")) == ["London"]


def test_accumulating_types_keep_disjoint_occurrences_apart(athena) -> None:
    graph = _people(athena)
    graph.relate("Alice", "visited", "Rome", valid_from="2020-01-01", valid_to="2020-01-05")
    graph.relate("Alice", "visited", "Rome", valid_from="2021-03-01", valid_to="2021-03-04")
    graph.relate("Alice", "visited", "Paris", valid_from="2020-01-02", valid_to="2020-01-03")
    visits = [f for f in graph.history("Alice", predicate="visited")]
    assert [(f["object"], f["valid_from"][:10], f["retracted_at"]) for f in visits] == [
        ("Rome", "2020-01-01", None), ("Rome", "2021-03-01", None),
        ("Paris", "2020-01-02", None)]
    assert sorted(_values(graph.as_of("Alice", valid_time="2020-01-02T12:00:00Z",
                                      predicate="visited"))) == ["Paris", "Rome"]
    assert _values(graph.as_of("Alice", valid_time="2020-06-01", predicate="visited")) == []


def test_supersession_never_touches_another_entity(athena) -> None:
    graph = _people(athena)
    bob = graph.relate("Bob", "lives_in", "Paris", valid_from="2020-01-01")
    graph.relate("Alice", "lives_in", "Paris", valid_from="2019-01-01")
    graph.relate("Alice", "lives_in", "Rome", valid_from="2019-06-01")
    graph.relate("Alice", "manager", "Bob", valid_from="2019-01-01")
    assert graph.history("Bob") == [{**bob}]
    assert _values(graph.current("Bob")) == ["Paris"]


def test_a_late_fact_from_then_on_ends_where_the_next_known_one_begins(athena) -> None:
    graph = _people(athena)
    graph.relate("Alice", "lives_in", "Paris", valid_from="2020-01-01")
    late = graph.relate("Alice", "lives_in", "Rome", valid_from="2018-01-01")
    assert late["valid_to"].startswith("2020-01-01")
    assert _values(graph.current("Alice")) == ["Paris"]
    assert _values(graph.as_of("Alice", valid_time="2019-01-01")) == ["Rome"]


def test_a_cascade_marks_dependants_stale_and_rules_chain(athena) -> None:
    graph = _people(athena)
    graph.declare("parking_permit", functional=True)
    graph.cascade("lives_in", "commute_time")
    graph.cascade("commute_time", "parking_permit")
    graph.relate("Alice", "lives_in", "Paris", valid_from="2020-01-01")
    old_commute = graph.observe("Alice", "commute_time", 30, valid_from="2020-02-01",
                                valid_to="2021-01-01")
    graph.observe("Alice", "commute_time", 25, valid_from="2021-01-01")
    permit = graph.observe("Alice", "parking_permit", "P-7", valid_from="2021-01-01")
    graph.observe("Bob", "commute_time", 10, valid_from="2021-01-01")
    move = graph.relate("Alice", "lives_in", "London", valid_from="2022-01-01")
    assert {f["predicate"]: f["stale"] for f in graph.current("Alice")} == {
        "commute_time": True, "parking_permit": True, "lives_in": False}
    assert graph.as_of("Alice", valid_time="2020-06-01",
                       predicate="commute_time")[0]["id"] == old_commute["id"]
    assert not graph.as_of("Alice", valid_time="2020-06-01", predicate="commute_time")[0][
        "stale"]  # it ended before the move
    assert not graph.current("Bob")[0]["stale"]
    # As believed before the move was recorded, nothing was stale; from its recording on,
    # it was.
    assert not graph.as_of("Alice", record_time=permit["recorded_at"],
                           predicate="parking_permit")[0]["stale"]
    assert graph.as_of("Alice", record_time=move["recorded_at"],
                       predicate="parking_permit")[0]["stale"]
    fresh = graph.observe("Alice", "commute_time", 45, valid_from="2022-01-02")
    assert not fresh["stale"]


@pytest.mark.parametrize("call", [
    lambda g: g.relate("Alice", "lives_in", "Atlantis"),
    lambda g: g.relate("Nobody", "lives_in", "Paris"),
    lambda g: g.relate("Alice", "lives_in", "Paris", valid_from="2020-01-01",
                       valid_to="2019-01-01"),
    lambda g: g.relate("Alice", "lives_in", "Paris", valid_from="2020-01-01",
                       valid_to="2020-01-01"),
    lambda g: g.relate("Alice", "likes", "Paris"),
    lambda g: g.relate("Alice", "Lives In", "Paris"),
    lambda g: g.observe("Alice", "shoe_size", 42),
    lambda g: g.cascade("commute_time", "lives_in"),
    lambda g: g.cascade("lives_in", "undeclared"),
    lambda g: g.entity("Paris", "person"),
    lambda g: g.retract("0" * 26),
])
def test_bad_input_is_a_typed_error_and_stores_nothing(athena, call) -> None:
    graph = _people(athena)
    graph.cascade("lives_in", "commute_time")
    graph.relate("Alice", "lives_in", "Rome", valid_from="2019-01-01")
    before = _rows(athena)
    with pytest.raises((GraphInputError, GraphFactNotFoundError)) as caught:
        call(graph)
    assert _rows(athena) == before
    assert "Atlantis" not in str(caught.value)  # errors never quote what was given


def test_each_kind_of_bad_input_has_its_own_error(athena) -> None:
    graph = _people(athena)
    graph.cascade("lives_in", "commute_time")
    with pytest.raises(UnknownEntityError, match=r"graph\.entity"):
        graph.relate("Alice", "lives_in", "Atlantis")
    with pytest.raises(InvalidIntervalError, match=r"valid_to .* is not after valid_from"):
        graph.relate("Alice", "lives_in", "Paris", valid_from="2020-01-01",
                     valid_to="2019-01-01")
    with pytest.raises(UnknownRelationTypeError, match="declared: commute_time, lives_in"):
        graph.relate("Alice", "likes", "Paris")
    with pytest.raises(CascadeCycleError,
                       match="commute_time -> lives_in -> commute_time"):
        graph.cascade("commute_time", "lives_in")


def test_paths_neighbours_and_subgraphs_follow_the_two_times(athena) -> None:
    graph = _people(athena)
    graph.relate("Bob", "manager", "Alice", valid_from="2020-01-01")
    graph.relate("Alice", "lives_in", "Paris", valid_from="2020-01-01")
    moved = graph.relate("Alice", "lives_in", "London", valid_from="2022-01-01")
    assert graph.path("Bob", "London")["entities"] == ["Bob", "Alice", "London"]
    assert graph.path("Bob", "Paris") is None
    assert graph.path("Bob", "Paris", valid_time="2021-01-01")["entities"] == [
        "Bob", "Alice", "Paris"]
    assert graph.path("London", "Bob", directed=True) is None
    assert graph.path("Bob", "London", max_depth=1) is None
    assert [n["entity"] for n in graph.neighbours("Alice", direction="in")] == ["Bob"]
    assert {n["entity"] for n in graph.neighbours(
        "Alice", valid_time="2023-01-01", record_time=moved["recorded_at"])} == {
        "Bob", "London"}
    graph.observe("Alice", "commute_time", 20, valid_from="2022-02-01")
    sub = graph.subgraph(["Bob"], depth=2)
    assert {n["name"] for n in sub["nodes"]} == {"Alice", "Bob", "London"}
    assert {(e["source"], e["predicate"], e["target"]) for e in sub["edges"]} == {
        ("Bob", "manager", "Alice"), ("Alice", "lives_in", "London")}
    assert [o["value"] for o in sub["observations"]] == [20]
    document = ElementTree.fromstring(graph.subgraph(["Bob"], depth=2, format="graphml"))
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert len(document.findall("g:graph/g:edge", ns)) == 2
    assert len(document.findall("g:graph/g:node", ns)) == 3


def test_aliases_find_the_entity_and_scopes_do_not_meet(athena) -> None:
    graph = _people(athena)
    graph.entity("Alice", "person", aliases=["Ali", "A. Martin"])
    graph.relate("ali", "lives_in", "Paris")
    assert _values(graph.current("A.  MARTIN")) == ["Paris"]
    with pytest.raises(UnknownEntityError):
        graph.current("Alice", scope="other")
    with athena.bound(scope="other"), pytest.raises(ScopeViolationError):
        graph.current("Alice", scope="default")


def test_communities_need_networkx_and_say_so(athena, monkeypatch) -> None:
    graph = _people(athena)
    graph.relate("Alice", "manager", "Bob")
    monkeypatch.setitem(sys.modules, "networkx", None)
    with pytest.raises(MissingExtraError, match=r"athena-core\[graph\]"):
        graph.communities()


def test_communities_group_linked_entities(athena) -> None:
    pytest.importorskip("networkx")
    graph = athena.graph
    for name in "abcdef":
        graph.entity(name, "node")
    for s, o in ("ab", "bc", "ca", "de", "ef", "fd", "cd"):
        graph.relate(s, "linked", o)
    assert graph.communities() == [["a", "b", "c"], ["d", "e", "f"]]


# --- extraction, memories, forgetting --------------------------------------------------


def test_rules_find_names_identifiers_and_possessive_relations(athena) -> None:
    found = athena.graph.extract(
        "Bob Stone is Alice Martin's manager. See https://wiki.acme.dev/ops and "
        "/srv/app/config.toml before 2024-05-01 (ticket OPS-42).")
    assert {(e["name"], e["type"]) for e in found["entities"]} >= {
        ("Bob Stone", "name"), ("Alice Martin", "name"), ("https://wiki.acme.dev/ops", "url"),
        ("/srv/app/config.toml", "path"), ("2024-05-01", "date"), ("OPS-42", "identifier")}
    assert found["relations"] == [{"subject": "Alice Martin", "predicate": "manager",
                                   "object": "Bob Stone"}]


def test_link_joins_memories_and_forget_removes_only_what_only_they_asserted(athena) -> None:
    graph = athena.graph
    one = athena.remember("Bob Stone is Alice Martin's manager.")
    two = athena.remember("As we said, Bob Stone is Alice Martin's manager.")
    three = athena.remember("Carol Diaz is Dan Wu's mentor.")
    athena.remember("The deploy checklist lives in the wiki.")
    for memory in (one, two, three):
        graph.link(memory)
    assert _values(graph.current("Alice Martin")) == ["Bob Stone"]
    hits = graph.recall("what about Dan Wu?", k=3)
    assert hits[0].id == three
    athena.forget(one)
    assert _values(graph.current("Alice Martin")) == ["Bob Stone"]  # two still asserts it
    athena.forget(two)
    with pytest.raises(UnknownEntityError):  # only the forgotten memories mentioned it
        graph.current("Alice Martin")
    assert _values(graph.current("Dan Wu")) == ["Carol Diaz"]


def test_an_entity_a_caller_created_outlives_the_memories_that_mention_it(athena) -> None:
    graph = athena.graph
    graph.entity("Alice Martin", "person")
    memory = athena.remember("Bob Stone is Alice Martin's manager.")
    graph.link(memory)
    athena.forget(memory)
    assert graph.current("Alice Martin") == []
    with pytest.raises(UnknownEntityError):
        graph.current("Bob Stone")


def test_forgetting_everything_empties_the_scopes_graph(athena) -> None:
    graph = _people(athena)
    graph.relate("Alice", "lives_in", "Paris")
    athena.remember("something")
    athena.forget(everything=True)
    with athena.storage.snapshot() as db:
        assert db.execute(select(GraphEntityRow.pk)).first() is None


def test_the_graph_holds_placeholders_never_sensitive_values(athena) -> None:
    email = "carol.smith@acme-corp.io"
    memory = athena.remember(f"Write to {email} about OPS-12.")
    linked = athena.graph.link(memory)
    athena.graph.entity("dan.wu@acme-corp.io", "email")
    athena.graph.declare("note")
    athena.graph.entity("Alice", "person")
    athena.graph.observe("Alice", "note", f"mail {email}")
    with athena.storage.snapshot() as db:
        stored = [str(tuple(row)) for table in ("graph_entities", "graph_facts")
                  for row in db.exec_driver_sql(f"SELECT * FROM {table}")]
    assert not any("acme-corp" in row for row in stored)
    assert any(e["type"] == "email" and e["name"].startswith("[EMAIL_")
               for e in linked["entities"])
    # Looking an entity up by its value finds it through its placeholder.
    assert athena.graph.current("dan.wu@acme-corp.io") == []


class _Proposer:
    """A plugin proposing entities and relations, as a language model would."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.texts: list[str] = []

    @hookimpl
    def athena_graph_proposals(self, text: str, types: Any) -> Any:
        self.texts.append(text)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_proposals_of_a_plugin_pass_the_same_validation(tmp_path) -> None:
    proposer = _Proposer({
        "entities": [{"name": "Acme", "type": "company"},
                     {"name": "Globex", "type": "company"},  # not in the text
                     {"name": "Bob Stone", "type": "Person!"}],  # malformed type
        "relations": [{"subject": "Bob Stone", "predicate": "works_at", "object": "Acme"},
                      {"subject": "Bob Stone", "predicate": "works_at",
                       "object": "Globex"},
                      {"subject": "Bob Stone", "predicate": "owns", "object": "Acme"}]})
    _empty_database()  # on PostgreSQL, tests share one database
    with Athena.open(config=make_config(tmp_path), plugins=[proposer]) as athena:
        athena.graph.declare("works_at")
        memory = athena.remember("Bob Stone joined Acme in May.")
        result = athena.graph.link(memory)
        assert proposer.texts == ["Bob Stone joined Acme in May."]
        assert {(e["name"], e["type"]) for e in result["entities"]} >= {
            ("Acme", "company"), ("Bob Stone", "name")}
        assert "Globex" not in {e["name"] for e in result["entities"]}
        assert result["relations"] == [{"subject": "Bob Stone", "predicate": "works_at",
                                        "object": "Acme"}]
        assert sorted((r["item"], r["why"]) for r in result["rejected"]) == [
            ("entity", "a type is lower-case letters, digits and _ (at most 64)"),
            ("entity", "the name does not occur in the text it was proposed from"),
            ("relation", "the name does not occur in the text it was proposed from"),
            ("relation", "the relation type is not declared in this scope")]
        assert _values(athena.graph.current("Bob Stone")) == ["Acme"]


def test_a_failing_proposer_is_reported_and_the_rules_still_apply(tmp_path) -> None:
    proposer = _Proposer(RuntimeError("model unreachable"))
    _empty_database()  # on PostgreSQL, tests share one database
    with Athena.open(config=make_config(tmp_path), plugins=[proposer]) as athena:
        found = athena.graph.extract("Bob Stone is Alice Martin's manager.")
        assert found["relations"] and found["rejected"][0]["why"] == \
            "the plugin raised RuntimeError"


# --- the operations from every door -----------------------------------------------------


def test_a_program_in_the_sandbox_uses_the_graph(athena) -> None:
    _people(athena)
    athena.graph.relate("Alice", "lives_in", "Paris")
    result = athena.execute("import athena\n"
                            "print([f['object'] for f in athena.graph.current('Alice')])\n"
                            "try:\n    athena.graph.relate('Alice', 'lives_in', 'Mars')\n"
                            "except athena.errors.UnknownEntityError as e:\n"
                            "    print('refused')\n")
    assert result.ok, result.error
    assert result.stdout.split() == ["['Paris']", "refused"]


def test_the_timeline_suite_agrees_with_the_reference_model(athena) -> None:
    figures = graph_timelines.run_suite(athena, entities=25, seed=3, queries=8)
    assert figures["as_of_checked"] > 500
    assert figures["as_of_wrong"] == 0
    assert figures["invalidated_in_current"] == 0
    assert figures["cross_invalidations"] == 0
    assert figures["cascades_expected"] > 10
    assert figures["cascades_found"] == figures["cascades_expected"]
    assert figures["cascade_false_marks"] == 0


def test_a_relation_to_an_entity_nobody_proposed_is_refused(tmp_path) -> None:
    proposer = _Proposer({"relations": [{"subject": "Bob Stone", "predicate": "works_at",
                                         "object": "joined"}]})
    _empty_database()  # on PostgreSQL, tests share one database
    with Athena.open(config=make_config(tmp_path), plugins=[proposer]) as athena:
        found = athena.graph.extract("Bob Stone joined Acme in May.")
        assert found["relations"] == []
        assert [r["why"] for r in found["rejected"]] == [
            "a relation's subject and object must be proposed or known entities"]


# --- export and import ----------------------------------------------------------------


def test_export_and_import_carry_both_times_and_the_memory_links(athena, tmp_path) -> None:
    import io

    from athena_core.config import Config
    from athena_core.transfer import export_jsonl, import_jsonl

    raw = {"plugins": {"strict": True}, "retrieval": {"embedder": "hashing"}}
    with Athena.open(config=Config.from_mapping(raw, data_dir=tmp_path / "src",
                                                env={})) as source:
        graph = _people(source)
        graph.cascade("lives_in", "commute_time")
        paris = graph.relate("Alice", "lives_in", "Paris", valid_from="2020-01-01")
        graph.observe("Alice", "commute_time", 30, valid_from="2020-01-01")
        graph.relate("Alice", "lives_in", "London", valid_from="2022-01-01")
        memory = source.remember("Bob Stone is Alice Martin's manager.")
        graph.link(memory)
        out = io.StringIO()
        export_jsonl(source, out)
        first = out.getvalue()
        history = graph.history("Alice")
    import_jsonl(athena, io.BytesIO(first.encode("utf-8")))
    assert athena.graph.history("Alice") == history
    assert _values(athena.graph.as_of("Alice", valid_time="2023-01-01",
                                      record_time=paris["recorded_at"])) == ["Paris"]
    assert [f["stale"] for f in athena.graph.current("Alice", predicate="commute_time")] == [
        True]
    again = io.StringIO()
    export_jsonl(athena, again)
    assert again.getvalue() == first
    import_jsonl(athena, io.BytesIO(first.encode("utf-8")))  # a second import adds nothing
    assert athena.graph.history("Alice") == history
    athena.forget(memory)  # the imported links still say what only it asserted
    with pytest.raises(UnknownEntityError):
        athena.graph.current("Alice Martin")


@pytest.mark.parametrize(("line", "field"), [
    ({"graph_fact": {"id": "bad", "scope": "default"}}, "graph_fact.id"),
    ({"graph_entity": {"scope": "default", "name": "", "type": "person"}}, "graph_entity.name"),
    ({"graph_fact": {"id": "0" * 26, "scope": "default", "subject": "Alice",
                     "predicate": "lives_in", "object": "Paris",
                     "valid_from": "2021-01-01T00:00:00Z", "valid_to": "2020-01-01T00:00:00Z",
                     "recorded_at": "2026-01-01T00:00:00Z"}}, "graph_fact.valid_to"),
    ({"graph_fact": {"id": "0" * 26, "scope": "default", "subject": "Nobody",
                     "predicate": "lives_in", "object": "Paris",
                     "valid_from": "2021-01-01T00:00:00Z",
                     "recorded_at": "2026-01-01T00:00:00Z"}}, "graph_fact.subject"),
])
def test_a_bad_graph_line_is_refused_naming_it_and_nothing_is_imported(athena, line,
                                                                      field) -> None:
    import io
    import json

    from athena_core.errors import ImportFormatError
    from athena_core.transfer import import_jsonl

    entity = {"graph_entity": {"scope": "default", "name": "Paris", "type": "city"}}
    text = "\n".join(json.dumps(item) for item in (
        {"format": "athena-export", "version": 3}, entity, line)) + "\n"
    with pytest.raises(ImportFormatError) as caught:
        import_jsonl(athena, io.BytesIO(text.encode("utf-8")))
    assert caught.value.line == 3 and caught.value.field == field
    with athena.storage.snapshot() as db:
        assert db.execute(select(GraphEntityRow.pk)).first() is None


# --- the command line -------------------------------------------------------------------


def test_the_command_line_offers_every_graph_operation(tmp_path, capsys) -> None:
    import json

    from athena_core.cli import main

    home = ["--home", str(tmp_path / "cli")]

    def run(*args: str) -> Any:
        capsys.readouterr()
        status = main([*args, *home, "--json"])
        out = capsys.readouterr().out
        return status, json.loads(out) if out.strip() else None

    assert run("graph", "entity", "Alice", "--type", "person", "--aliases", "Ali")[0] == 0
    run("graph", "entity", "Paris", "--type", "city")
    assert run("graph", "declare", "lives_in", "--functional")[1]["functional"] is True
    status, fact = run("graph", "relate", "Ali", "lives_in", "Paris", "--valid-from",
                       "2024-03-01", "--attributes", '{"source": "hr"}')
    assert status == 0 and fact["attributes"] == {"source": "hr"}
    status, error = run("graph", "observe", "Alice", "age", "42")
    assert status == 1 and error["error"]["type"] == "UnknownRelationTypeError"
    assert [f["object"] for f in run("graph", "current", "Alice")[1]] == ["Paris"]
    assert run("graph", "as-of", "Alice", "--valid-time", "2020-01-01")[1] == []
    status, error = run("graph", "relate", "Alice", "lives_in", "Atlantis")
    assert status == 1 and error["error"]["type"] == "UnknownEntityError"
    from athena_core.cli_graph import _operations
    from athena_core.graph.service import Graph

    assert {name for name, _ in _operations()} == {
        name for name in vars(Graph) if hasattr(vars(Graph)[name], "__athena_operation__")}

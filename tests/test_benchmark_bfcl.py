"""The harness of ``benchmarks/bfcl_procedures.py``, on made-up tasks of a made-up API.

The benchmark itself needs ``bfcl-eval``; these tests need neither it nor its data: the
call parsing, procedure templates, shortcut covering and name-level macros on their own,
and (with a sandbox) the whole record / learn / replay / compare run on a small API
registered through the same benchmark plugin.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.sandbox import require_sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from bfcl_plugin import World
from bfcl_procedures import measure, resolver
from bfcl_replay import (
    Param,
    Step,
    cover,
    name_macros,
    parse_call,
    program,
    template_from_code,
)

needs_sandbox = require_sandbox()


class Shelf:
    """A small stateful API in the shape of BFCL's: a scenario loader, public methods."""

    def _load_scenario(self, scenario: dict[str, Any], long_context: bool = False) -> None:
        self.items: list[str] = list(scenario.get("items", []))
        self.label = str(scenario.get("label", ""))

    def add(self, item: str, count: int = 1) -> dict[str, Any]:
        """Put ``count`` of ``item`` on the shelf."""
        self.items.extend([item] * count)
        return {"size": len(self.items)}

    def relabel(self, label: str) -> dict[str, str]:
        """Give the shelf a new label."""
        self.label = label
        return {"label": label}

    def size(self) -> dict[str, int]:
        """How many items the shelf holds."""
        return {"size": len(self.items)}


def shelf_world() -> World:
    return World({"Shelf": Shelf}, shorts={"Shelf": "shelf"})


def test_a_ground_truth_call_binds_positional_arguments_by_name() -> None:
    resolve = resolver(shelf_world(), ["Shelf"])
    assert parse_call("add('jam', count=2)", resolve) == Step("bfcl.shelf.add",
                                                              {"item": "jam", "count": 2})
    assert parse_call("size()", resolve) == Step("bfcl.shelf.size", {})
    with pytest.raises(KeyError):
        parse_call("remove('jam')", resolve)
    assert program([Step("bfcl.shelf.add", {"item": "jam"}), Step("bfcl.shelf.size", {})]) == (
        "import athena\n[\n    athena.bfcl.shelf.add(item='jam'),\n"
        "    athena.bfcl.shelf.size(),\n]\n")


CODE = '''\
import athena
from typing import Any


def run(item: str, label: str) -> list[Any]:
    """Add an item, relabel, count."""
    added = athena.bfcl.shelf.add(item=item, count=2)
    named = athena.bfcl.shelf.relabel(label=label)
    return [added, named, athena.bfcl.shelf.size()]
'''


def test_a_procedures_template_binds_only_the_calls_it_makes() -> None:
    template = template_from_code("shelf/stock", CODE)
    assert template is not None
    assert template.operations == ("bfcl.shelf.add", "bfcl.shelf.relabel", "bfcl.shelf.size")
    assert template.steps[0][1] == {"item": Param("item", "str"), "count": 2}
    run = [Step("bfcl.shelf.add", {"item": "jam", "count": 2}),
           Step("bfcl.shelf.relabel", {"label": "pantry"}), Step("bfcl.shelf.size", {})]
    assert template.bind(run) == {"item": "jam", "label": "pantry"}
    # another constant, another argument name, another operation, too short: no binding
    assert template.bind([Step("bfcl.shelf.add", {"item": "jam", "count": 3}), *run[1:]]) is None
    assert template.bind([Step("bfcl.shelf.add", {"item": "jam"}), *run[1:]]) is None
    assert template.bind([run[0], run[2], run[1]]) is None
    assert template.bind(run[:2]) is None
    # a parameter's value must be of its annotated type
    assert template.bind([Step("bfcl.shelf.add", {"item": 7, "count": 2}), *run[1:]]) is None
    looped = CODE.replace("    added = athena", "    for _ in range(2):\n        athena")
    assert template_from_code("shelf/loop", looped) is None


def test_a_parameter_used_twice_must_get_the_same_value_twice() -> None:
    template = template_from_code("shelf/twice", '''\
import athena


def run(item: str) -> None:
    athena.bfcl.shelf.add(item=item)
    athena.bfcl.shelf.relabel(label=item)
''')
    assert template is not None
    same = [Step("bfcl.shelf.add", {"item": "a"}), Step("bfcl.shelf.relabel", {"label": "a"})]
    assert template.bind(same) == {"item": "a"}
    assert template.bind([same[0], Step("bfcl.shelf.relabel", {"label": "b"})]) is None


def test_a_float_parameter_takes_a_whole_number_as_its_input_schema_does() -> None:
    template = template_from_code("shelf/weigh", '''\
import athena


def run(weight: float) -> None:
    athena.bfcl.shelf.weigh(weight=weight)
''')
    assert template is not None
    # a float's schema is a JSON number: 2940 is one, and passed on as the int it is
    assert template.bind([Step("bfcl.shelf.weigh", {"weight": 2940})]) == {"weight": 2940}
    assert template.bind([Step("bfcl.shelf.weigh", {"weight": 2.5})]) == {"weight": 2.5}
    assert template.bind([Step("bfcl.shelf.weigh", {"weight": True})]) is None
    assert template.bind([Step("bfcl.shelf.weigh", {"weight": "2"})]) is None


def test_lists_and_dicts_bind_part_by_part_and_every_parameter_needs_a_value() -> None:
    template = template_from_code("shelf/nested", '''\
import athena


def run(first: str, second: str, size: int, unused: str) -> None:
    athena.bfcl.shelf.post(tags=[first, second], meta={"size": size, "kind": "box"})
''')
    assert template is not None
    step = Step("bfcl.shelf.post", {"tags": ["a", "b"], "meta": {"size": 3, "kind": "box"}})
    assert template.bind([step]) is None  # nothing gives `unused` a value
    template = attrs.evolve(template, params=frozenset({"first", "second", "size"}))
    assert template.bind([step]) == {"first": "a", "second": "b", "size": 3}
    for tags, meta in ((["a"], {"size": 3, "kind": "box"}),
                       (["a", "b"], {"size": 3, "kind": "bag"}),
                       (["a", "b"], {"size": "3", "kind": "box"})):
        assert template.bind([Step("bfcl.shelf.post", {"tags": tags, "meta": meta})]) is None
    computed = '''\
import athena


def run(item: str) -> None:
    athena.bfcl.shelf.add(item=item.upper())
'''
    assert template_from_code("shelf/computed", computed) is None


def test_cover_uses_the_fewest_calls() -> None:
    steps = [Step(name, {}) for name in "abcabd"]

    def names(*wanted: str) -> Any:
        return lambda run: {} if tuple(s.operation for s in run) == wanted else None

    choices = cover(steps, [("ab", names("a", "b"), 2), ("bca", names("b", "c", "a"), 3),
                            ("abd", names("a", "b", "d"), 3)])
    assert [(c.start, c.length, c.via) for c in choices] == [
        (0, 2, "ab"), (2, 1, None), (3, 3, "abd")]
    assert [c.length for c in cover(steps, [])] == [1] * 6


def test_the_split_harness_names_the_turns_procedures_leave_at_more_than_one_call() -> None:
    from bfcl_split import misses

    ab = template_from_code("shelf/ab", """
import athena

def run(*, item: str) -> list:
    return [athena.bfcl.shelf.add(item=item), athena.bfcl.shelf.size()]
""")
    assert ab is not None
    add, size = Step("bfcl.shelf.add", {"item": "a"}), Step("bfcl.shelf.size", {})
    relabel = Step("bfcl.shelf.relabel", {"label": "x"})
    turns = [[add, size], [add, size, relabel], [relabel, size], [relabel, size], [size]]
    assert misses([ab], turns) == {("add", "size", "relabel"): 1, ("relabel", "size"): 2}

def test_name_macros_are_the_frequent_contiguous_ngrams() -> None:
    turns = [["a", "b", "c"], ["a", "b"], ["x", "a", "b", "c"], ["c", "a"]]
    assert name_macros(turns, min_count=2) == [("a", "b"), ("a", "b", "c"), ("b", "c")]
    assert name_macros(turns, min_count=3) == [("a", "b")]
    assert name_macros(turns, min_count=2, limit=1) == [("a", "b")]


def tasks() -> list[dict[str, Any]]:
    """Eight tasks: stock a shelf under a label, check its size, in two or three turns."""
    made = []
    for number in range(8):
        item, label = f"item-{number}", f"label-{number}"
        turns = [[f"add('{item}', count=2)", f"relabel(label='{label}')", "size()"],
                 ["size()"]]
        if number % 3 == 0:
            turns.append([f"add(item='extra-{number}')", "size()"])
        made.append({"id": f"shelf_{number}", "involved_classes": ["Shelf"],
                     "initial_config": {"Shelf": {"items": ["seed"] * number}},
                     "ground_truth": turns})
    return made


@needs_sandbox
def test_the_harness_records_replays_and_compares(tmp_path: Path) -> None:
    results = measure(tmp_path, tasks(), shelf_world())
    assert results["tasks"] == {"total": 8, "training": 4, "held_out": 4}
    assert results["record"]["failed"] == []
    assert results["record"]["executions"] == 3 + 2 + 2 + 3  # the turns of 0, 2, 4, 6
    totals = results["totals"]
    assert totals["calls"] == 4 + 6 + 4 + 4  # the calls of 1, 3, 5, 7
    assert totals["state_equal"] == 4 and totals["calls_equal"] == 4
    assert totals["failed"] == []
    # add -> relabel -> size is in every training task: the macro covers it everywhere
    assert results["baseline"]["macros"]["top"][0] == ["bfcl.shelf.add", "bfcl.shelf.relabel",
                                                    "bfcl.shelf.size"]
    assert totals["baseline"]["macros"]["saving_pct"] > 0
    assert results["baseline"]["one_call_per_turn"]["calls"] == 2 + 3 + 2 + 2
    # the learner proposes that same sequence from the four training runs, with relabel an
    # optional step (tasks 0 and 6 also add and size without it) and add's count an
    # optional argument; the gate admits it, the first turn of every held-out task is one
    # procedure call instead of three, and task 3's add -> size one instead of two
    learned = results["learn"]
    assert [t["operations"] for t in learned["templates"]] == [
        ["bfcl.shelf.add", "bfcl.shelf.relabel", "bfcl.shelf.size"]]
    assert totals["calls_with_procedures"] == totals["calls"] - 4 * 2 - 1


def test_the_template_of_a_learned_run_of_calls_is_the_list_it_returns() -> None:
    # what the learner writes for a run of calls within a turn's list of calls
    template = template_from_code("learned/add-relabel", '''\
import athena
from typing import Any

def run(item: str, label: str) -> Any:
    """Calls add, then relabel."""
    return [athena.bfcl.shelf.add(item=item, count=2), athena.bfcl.shelf.relabel(label=label)]
''')
    assert template is not None
    assert template.operations == ("bfcl.shelf.add", "bfcl.shelf.relabel")
    run = [Step("bfcl.shelf.add", {"item": "jam", "count": 2}),
           Step("bfcl.shelf.relabel", {"label": "pantry"})]
    assert template.bind(run) == {"item": "jam", "label": "pantry"}
    steps = [Step("bfcl.shelf.size", {}), *run, Step("bfcl.shelf.size", {})]
    assert [(c.start, c.length, c.via) for c in cover(
        steps, [(template.id, template.bind, 2)])] == [
        (0, 1, None), (1, 2, "learned/add-relabel"), (3, 1, None)]


def test_an_optional_step_that_refuses_its_other_inputs_without_its_guard_is_read() -> None:
    # what the learner writes for an optional step with two inputs of its own
    template = template_from_code("learned/add-relabel", '''\
import athena
from typing import Any

def run(*, label: str, item: str | None = None, count: int | None = None) -> Any:
    results: list[Any] = []
    results.append(athena.bfcl.shelf.relabel(label=label))
    if item is not None:
        results.append(athena.bfcl.shelf.add(item=item, count=count))
    elif count is not None:
        raise ValueError('bfcl.shelf.add runs only when item is given')
    return results
''')
    assert template is not None
    assert template.guards == (None, ("item", False))
    relabel = Step("bfcl.shelf.relabel", {"label": "pantry"})
    assert template.bind([relabel, Step("bfcl.shelf.add", {"item": "jam", "count": 2})]) == {
        "label": "pantry", "item": "jam", "count": 2}
    assert template.bind([relabel]) == {"label": "pantry"}
    # any other else branch: not a fixed sequence of calls
    for other in ("    else:\n        athena.bfcl.shelf.size()\n",
                  "    elif count is not None:\n        athena.bfcl.shelf.size()\n"):
        code = f'''\
import athena

def run(*, item: str | None = None, count: int | None = None) -> None:
    if item is not None:
        athena.bfcl.shelf.add(item=item, count=count)
{other}'''
        assert template_from_code("learned/other", code) is None

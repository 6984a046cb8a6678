"""Every registered operation, fuzzed through the host API.

Whatever the arguments - wrong types, huge integers, non-finite numbers, NUL, lone
surrogates, huge strings, deep or circular nesting, objects with no JSON form - an
operation either works or raises a subclass of ``AthenaError``, and a call it refuses
leaves every memory, episode, fact and audit record as it was. The operations come
from the API registry, so a new one is fuzzed without being listed here. A second
fuzz ranks while another thread forgets (recency and importance weights on).

``pytest --hypothesis-profile=thorough tests/test_fuzz_operations.py`` runs many more
examples than the default profile's (tests/conftest.py).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from athena_core import Athena
from athena_core.errors import AthenaError
from tests._fuzz import EDGE_VALUES, arguments, plain_arguments, resolve, seed, snapshot
from tests.conftest import _empty_database, make_config

#: Ranking terms that read each candidate's row after the search (see
#: tests/test_forget_during_recall.py), all on.
RANKING = {"recency_weight": 0.3, "importance_weight": 0.3, "period_weight": 0.2,
           "actor_weight": 0.3, "question_penalty": 0.2, "expansion_weight": 0.3,
           "neighbour_weight": 0.3}


def _registered() -> list[Any]:
    """The registered operations (names and signatures) of an Athena with the
    installed plugins."""
    with tempfile.TemporaryDirectory() as home, Athena.open(
            config=make_config(Path(home))) as athena:
        return [(op.name, op.signature) for op in athena.api]


REGISTERED = _registered()
SIGNATURES = dict(REGISTERED)
#: The operations that rank search results (they take a query).
RANKERS = [name for name, signature in REGISTERED if "query" in signature.parameters]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> Iterator[Athena]:
    """One Athena for the whole module: the fuzz runs against a store with history."""
    _empty_database()
    athena = Athena.open(config=make_config(tmp_path_factory.mktemp("fuzz"),
                                            retrieval=RANKING, storage={"synchronous": "normal"}))
    yield athena
    athena.close()


def _call(athena: Athena, name: str, args: list[Any], kwargs: dict[str, Any],
          ids: list[str]) -> None:
    operation = athena.api.get(name)
    operation(*resolve(args, ids), **{k: resolve(v, ids) for k, v in kwargs.items()})


def test_the_fuzz_covers_every_registered_operation(athena) -> None:
    assert [name for name, _ in REGISTERED] == athena.api.names()
    assert RANKERS, "recall has a query"


def _typed_or_unchanged(athena: Athena, name: str, args: list[Any], kwargs: dict[str, Any]
                        ) -> None:
    """Call ``name``: it works, or raises an AthenaError and leaves the store unchanged."""
    seed(athena)
    before = snapshot(athena)
    try:
        _call(athena, name, args, kwargs, [row[0] for row in before["memories"]])
    except AthenaError:
        assert snapshot(athena) == before, f"{name} was refused but changed the store"
    except Exception as exc:
        raise AssertionError(f"{name}({_shown(args, kwargs)}) raised an untyped "
                             f"{type(exc).__name__}: {str(exc)[:300]}") from exc


def _shown(args: list[Any], kwargs: dict[str, Any]) -> str:
    shown = [repr(a)[:80] for a in args] + [f"{k}={v!r:.80}" for k, v in kwargs.items()]
    return ", ".join(shown)


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_every_argument_at_every_edge_raises_only_typed_errors(fuzzed, name) -> None:
    """Each argument in turn gets each of EDGE_VALUES, the required others plain ones."""
    plain = plain_arguments(SIGNATURES[name])
    for param in SIGNATURES[name].parameters:
        for value in EDGE_VALUES:
            _typed_or_unchanged(fuzzed, name, [], {**plain, param: value})


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_fuzzed_calls_raise_only_typed_errors_and_a_refused_call_changes_nothing(
        fuzzed, name) -> None:
    @given(call=arguments(SIGNATURES[name]))
    def check(call: tuple[list[Any], dict[str, Any]]) -> None:
        _typed_or_unchanged(fuzzed, name, *call)

    check()


@pytest.mark.parametrize("name", RANKERS)
def test_ranking_while_another_thread_forgets_raises_only_typed_errors(fuzzed, name) -> None:
    seed(fuzzed)
    stop = threading.Event()
    churn_errors: list[BaseException] = []

    def churn() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                kept = fuzzed.episodic.record(
                    f"Caroline deployed billing build {n} in March 2026?", session="s1",
                    actor="Caroline", importance=(n % 10) / 10)
                fuzzed.remember(f"the billing service build {n} is on port 8443")
                fuzzed.forget(kept)
                if n % 5 == 0:
                    fuzzed.forget(session="s1")
            except AthenaError:
                pass
            except BaseException as exc:
                churn_errors.append(exc)
                return

    worker = threading.Thread(target=churn, daemon=True)
    worker.start()

    @given(call=arguments(SIGNATURES[name], program=True))
    def check(call: tuple[list[Any], dict[str, Any]]) -> None:
        ids = [row[0] for row in snapshot(fuzzed)["memories"]]
        try:
            _call(fuzzed, name, *call, ids)
        except AthenaError:
            pass
        except Exception as exc:
            raise AssertionError(f"{name} raised an untyped {type(exc).__name__}: "
                                 f"{str(exc)[:300]}") from exc

    try:
        check()
    finally:
        stop.set()
        worker.join(60)
    assert not churn_errors, churn_errors

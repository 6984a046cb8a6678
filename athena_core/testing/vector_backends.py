"""The contract every vector backend passes (see ``athena_register_vector_backends``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from athena_core.errors import InvalidArgumentError
from athena_core.retrieval.filters import RecallFilter
from athena_core.retrieval.vectors import (
    FilteringVectorBackend,
    PersistentVectorBackend,
    VectorBackend,
    VectorEntry,
)
from athena_core.testing._registered import registered_names

__all__ = ["PersistentVectorBackendContract", "VectorBackendContract"]

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def unit(values: Any) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def entry(key: int, vector: Any, *, scope: str = "s", layer: str = "semantic",
          valid_from: datetime = T0, valid_to: datetime | None = None) -> VectorEntry:
    return VectorEntry(key=key, vector=unit(vector), scope=scope, layer=layer,
                       valid_from=valid_from, valid_to=valid_to)


class VectorBackendContract:
    """Subclass, set :attr:`name` and implement :meth:`make_backend`."""

    #: The name the backend is registered under (checked against entry points).
    name: str = ""
    #: Dimension used by the tests.
    dimension: int = 8
    #: Exact backends must return the true top-k; approximate ones a high recall.
    exact: bool = True
    #: Smallest recall@10 an approximate backend must reach on the random-data test.
    min_recall: float = 0.9

    def make_backend(self, dimension: int, data_dir: Path) -> VectorBackend:
        raise NotImplementedError

    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[VectorBackend]:
        backend = self.make_backend(self.dimension, tmp_path)
        yield backend
        backend.close()

    def basis(self, i: int) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        vector[i % self.dimension] = 1.0
        return vector

    def where(self, **kwargs: Any) -> RecallFilter:
        return RecallFilter(kwargs.pop("scope", "s"), **kwargs)

    # --- the contract --------------------------------------------------------------

    def test_registered(self) -> None:
        if not self.name:
            pytest.skip("set `name` to check the entry point registration")
        assert self.name in registered_names("vector backend")

    def test_is_a_vector_backend(self, backend: VectorBackend) -> None:
        assert isinstance(backend, VectorBackend)
        assert backend.dimension == self.dimension

    def test_empty_search_returns_nothing(self, backend: VectorBackend) -> None:
        assert backend.search(self.basis(0), k=5, where=self.where()) == []
        assert len(backend) == 0

    def test_nearest_first_with_cosine_scores(self, backend: VectorBackend) -> None:
        backend.add([entry(1, self.basis(0)), entry(2, self.basis(1)),
                     entry(3, self.basis(0) + 0.5 * self.basis(1))])
        results = backend.search(self.basis(0), k=3, where=self.where())
        assert [key for key, _ in results] == [1, 3, 2]
        assert results[0][1] == pytest.approx(1.0, abs=1e-4)
        assert results[1][1] == pytest.approx(float(unit(self.basis(0) + 0.5 * self.basis(1))[0]),
                                              abs=1e-4)
        scores = [score for _, score in results]
        assert scores == sorted(scores, reverse=True)

    def test_k_limits_results(self, backend: VectorBackend) -> None:
        backend.add([entry(i, self.basis(i)) for i in range(1, 6)])
        assert len(backend.search(self.basis(1), k=2, where=self.where())) == 2
        assert len(backend.search(self.basis(1), k=50, where=self.where())) == 5

    def test_fewer_than_k_only_when_no_more_match(self, backend: VectorBackend) -> None:
        # Filtered recall asks for k·f candidates and takes a short answer to mean that
        # no more entries match: a search returns k entries whenever k match.
        backend.add([entry(i, self.basis(i)) for i in range(1, 21)])
        backend.add([entry(100 + i, self.basis(i), scope="other") for i in range(10)])
        for k in (1, 19, 20):
            assert len(backend.search(self.basis(0), k=k, where=self.where())) == k
        assert len(backend.search(self.basis(0), k=25, where=self.where())) == 20

    def test_predicate_is_applied_inside_the_search(self, backend: VectorBackend) -> None:
        """For a :class:`FilteringVectorBackend`: ``search_matching`` keeps only the entries
        whose key satisfies the SQL predicate, and ranks them as ``search`` would."""
        if not isinstance(backend, FilteringVectorBackend):
            pytest.skip("not a FilteringVectorBackend: Athena filters its candidates")
        # 50 closer entries with odd keys must not push the even one out of the top k.
        backend.add([entry(2 * i + 1, self.basis(0)) for i in range(50)])
        backend.add([entry(200, self.basis(0) + 0.9 * self.basis(1)),
                     entry(202, self.basis(1)), entry(204, self.basis(0), scope="other")])
        found = backend.search_matching(self.basis(0), k=2, where=self.where(),
                                        predicate=lambda key: key % 2 == 0)
        if found is None:
            pytest.skip("this backend's entries are not in a database it can filter in")
        assert [key for key, _ in found] == [200, 202]
        assert found[0][1] == pytest.approx(float(unit(self.basis(0) + 0.9 * self.basis(1))[0]),
                                            abs=1e-4)
        none = backend.search_matching(self.basis(0), k=5, where=self.where(),
                                       predicate=lambda key: key > 10_000)
        assert none == []

    def test_add_replaces_existing_key(self, backend: VectorBackend) -> None:
        backend.add([entry(1, self.basis(0))])
        backend.add([entry(1, self.basis(1))])
        assert len(backend) == 1
        key, score = backend.search(self.basis(1), k=1, where=self.where())[0]
        assert key == 1 and score == pytest.approx(1.0, abs=1e-4)

    def test_add_moves_a_key_to_its_new_scope(self, backend: VectorBackend) -> None:
        backend.add([entry(1, self.basis(0), scope="old"), entry(2, self.basis(0), scope="old")])
        backend.add([entry(1, self.basis(0), scope="new")])
        assert len(backend) == 2
        for scope, expected in (("old", [2]), ("new", [1])):
            found = backend.search(self.basis(0), k=5, where=self.where(scope=scope))
            assert [key for key, _ in found] == expected

    def test_remove(self, backend: VectorBackend) -> None:
        backend.add([entry(i, self.basis(i)) for i in range(1, 4)])
        backend.remove([2, 999])
        assert 2 not in backend and 1 in backend and len(backend) == 2
        assert 2 not in [k for k, _ in backend.search(self.basis(2), k=3, where=self.where())]

    def test_scope_is_filtered_inside_the_search(self, backend: VectorBackend) -> None:
        # 50 closer vectors in another scope must not push ours out of the top k.
        backend.add([entry(100 + i, self.basis(0), scope="other") for i in range(50)])
        backend.add([entry(1, self.basis(0) + 0.9 * self.basis(1))])
        results = backend.search(self.basis(0), k=1, where=self.where())
        assert [key for key, _ in results] == [1]
        assert backend.search(self.basis(0), k=5, where=self.where(scope="nobody")) == []

    def test_layer_filter(self, backend: VectorBackend) -> None:
        backend.add([entry(1, self.basis(0), layer="episodic"),
                     entry(2, self.basis(0) + 0.5 * self.basis(1), layer="semantic")])
        keys = [k for k, _ in backend.search(self.basis(0), k=5,
                                             where=self.where(layers={"semantic"}))]
        assert keys == [2]

    def test_validity_current_and_as_of(self, backend: VectorBackend) -> None:
        t1, t2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
        backend.add([entry(1, self.basis(0), valid_from=T0, valid_to=t1),
                     entry(2, self.basis(0) + 0.1 * self.basis(1), valid_from=t1)])
        assert [k for k, _ in backend.search(self.basis(0), k=5, where=self.where())] == [2]
        old = self.where(as_of=T0 + timedelta(hours=1))
        assert [k for k, _ in backend.search(self.basis(0), k=5, where=old)] == [1]
        both_gone = self.where(as_of=T0 - timedelta(days=1))
        assert backend.search(self.basis(0), k=5, where=both_gone) == []
        assert [k for k, _ in backend.search(self.basis(0), k=5,
                                             where=self.where(as_of=t2))] == [2]

    def test_time_range(self, backend: VectorBackend) -> None:
        backend.add([entry(i, self.basis(0), valid_from=T0 + timedelta(days=i))
                     for i in range(5)])
        where = self.where(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))
        assert sorted(k for k, _ in backend.search(self.basis(0), k=10, where=where)) == [1, 2]

    def test_key_restriction(self, backend: VectorBackend) -> None:
        backend.add([entry(i, self.basis(0)) for i in range(1, 20)])
        where = self.where(keys={3, 7})
        assert sorted(k for k, _ in backend.search(self.basis(0), k=10, where=where)) == [3, 7]

    def test_rejects_bad_vectors(self, backend: VectorBackend) -> None:
        bad = np.full(self.dimension, np.nan, dtype=np.float32)
        with pytest.raises(InvalidArgumentError):
            backend.add([VectorEntry(1, bad, "s", "semantic", T0)])
        with pytest.raises(InvalidArgumentError):
            backend.add([VectorEntry(1, np.ones(self.dimension + 1, np.float32), "s",
                                     "semantic", T0)])
        with pytest.raises(InvalidArgumentError):
            backend.search(np.full(self.dimension, np.inf, np.float32), k=1, where=self.where())
        assert len(backend) == 0

    def test_clear(self, backend: VectorBackend) -> None:
        backend.add([entry(i, self.basis(i)) for i in range(1, 4)])
        backend.clear()
        assert len(backend) == 0
        assert backend.search(self.basis(1), k=3, where=self.where()) == []

    def test_random_data_top_k(self, backend: VectorBackend) -> None:
        rng = np.random.default_rng(7)
        vectors = rng.normal(size=(2000, self.dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        backend.add([VectorEntry(i, v, "s", "semantic", T0) for i, v in enumerate(vectors)])
        hits = total = 0
        for q in rng.normal(size=(20, self.dimension)).astype(np.float32):
            q /= np.linalg.norm(q)
            truth = set(np.argsort(-(vectors @ q))[:10].tolist())
            found = {k for k, _ in backend.search(q, k=10, where=self.where())}
            hits += len(truth & found)
            total += 10
        if self.exact:
            assert hits == total
        else:
            assert hits / total >= self.min_recall


class PersistentVectorBackendContract(VectorBackendContract):
    """For a :class:`PersistentVectorBackend`: entries and checkpoint survive together.

    :meth:`make_backend` must give backends that share their saved state when given
    the same ``data_dir``; implement :meth:`damage` to spoil that saved state.
    """

    def damage(self, data_dir: Path) -> None:
        """Corrupt what :meth:`PersistentVectorBackend.save_checkpoint` wrote."""
        raise NotImplementedError

    def reopen(self, backend: VectorBackend, data_dir: Path) -> PersistentVectorBackend:
        backend.close()
        again = self.make_backend(self.dimension, data_dir)
        assert isinstance(again, PersistentVectorBackend)
        return again

    def test_is_persistent(self, backend: VectorBackend) -> None:
        assert isinstance(backend, PersistentVectorBackend)
        assert isinstance(backend.shared, bool)

    def test_nothing_saved_yet(self, backend: PersistentVectorBackend) -> None:
        assert backend.load_checkpoint() is None
        assert len(backend) == 0

    def test_entries_and_checkpoint_survive_reopening(self, backend: PersistentVectorBackend,
                                                      tmp_path: Path) -> None:
        t1 = T0 + timedelta(days=1)
        backend.add([entry(1, self.basis(0), valid_to=t1), entry(2, self.basis(0) + self.basis(1)),
                     entry(3, self.basis(2), scope="other", layer="episodic"),
                     entry(4, self.basis(3))])
        backend.remove([4])
        before = backend.search(self.basis(0), k=5, where=self.where())
        backend.save_checkpoint('{"any": "text"}')
        again = self.reopen(backend, tmp_path)
        try:
            assert again.load_checkpoint() == '{"any": "text"}'
            assert len(again) == 3 and 4 not in again and 3 in again
            after = again.search(self.basis(0), k=5, where=self.where())
            assert [k for k, _ in after] == [k for k, _ in before] == [2]
            assert after[0][1] == pytest.approx(before[0][1], abs=1e-4)
            old = self.where(as_of=T0 + timedelta(hours=1))
            assert [k for k, _ in again.search(self.basis(0), k=5, where=old)] == [1, 2]
            episodic = self.where(scope="other", layers={"episodic"})
            assert [k for k, _ in again.search(self.basis(2), k=5, where=episodic)] == [3]
        finally:
            again.close()

    def test_a_later_save_replaces_the_earlier(self, backend: PersistentVectorBackend,
                                               tmp_path: Path) -> None:
        backend.add([entry(1, self.basis(0))])
        backend.save_checkpoint("first")
        backend.add([entry(2, self.basis(1))])
        backend.remove([1])
        backend.save_checkpoint("second")
        again = self.reopen(backend, tmp_path)
        try:
            assert again.load_checkpoint() == "second"
            assert 1 not in again and 2 in again and len(again) == 1
        finally:
            again.close()

    def test_cleared_and_saved_stays_empty(self, backend: PersistentVectorBackend,
                                           tmp_path: Path) -> None:
        backend.add([entry(i, self.basis(i)) for i in range(1, 4)])
        backend.save_checkpoint("full")
        backend.clear()
        backend.save_checkpoint("empty")
        again = self.reopen(backend, tmp_path)
        try:
            assert again.load_checkpoint() == "empty"
            assert len(again) == 0
            assert again.search(self.basis(1), k=3, where=self.where()) == []
        finally:
            again.close()

    def test_damaged_state_is_refused_with_a_warning(
            self, backend: PersistentVectorBackend, tmp_path: Path,
            caplog: pytest.LogCaptureFixture) -> None:
        backend.add([entry(i, self.basis(i)) for i in range(1, 4)])
        backend.save_checkpoint("saved")
        backend.close()
        self.damage(tmp_path)
        again = self.make_backend(self.dimension, tmp_path)
        assert isinstance(again, PersistentVectorBackend)
        try:
            with caplog.at_level("WARNING"):
                assert again.load_checkpoint() is None
            assert caplog.records, "a damaged index must be reported"
            assert len(again) == 0
            assert again.search(self.basis(1), k=3, where=self.where()) == []
            again.add([entry(7, self.basis(1))])  # and it is usable again
            assert [k for k, _ in again.search(self.basis(1), k=1, where=self.where())] == [7]
        finally:
            again.close()

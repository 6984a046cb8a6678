"""athena_core.options.PluginOptions: one wording and one error class for plugin options."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from athena_core import Athena
from athena_core.config import Config
from athena_core.errors import ConfigError, InvalidArgumentError, OptionError
from athena_core.options import PluginOptions
from athena_core.retrieval.embedders import HashingEmbedder

OPTIONS = PluginOptions("demo backend", "[retrieval.vector_options]", ("size", "share", "mode"))


def test_unknown_names_are_listed_with_the_valid_ones() -> None:
    with pytest.raises(OptionError) as caught:
        OPTIONS.check_names({"size": 1, "colour": "red", "bogus": 2})
    assert str(caught.value) == ("Unknown demo backend option(s) 'bogus', 'colour' in "
                                 "[retrieval.vector_options]; valid: size, share, mode.")
    OPTIONS.check_names({"size": 1, "mode": "a"})  # valid names pass


def test_option_errors_are_config_errors_and_invalid_arguments() -> None:
    assert issubclass(OptionError, ConfigError)
    assert issubclass(OptionError, InvalidArgumentError)
    assert issubclass(OptionError, ValueError)


@pytest.mark.parametrize(("value", "expected"), [
    (0, "an integer from 1 to 10, not 0"), (11, "an integer from 1 to 10, not 11"),
    (True, "an integer from 1 to 10, not True"), ("5", "an integer from 1 to 10, not '5'"),
    (2.0, "an integer from 1 to 10, not 2.0"),
])
def test_integers_outside_their_range_are_refused(value: object, expected: str) -> None:
    with pytest.raises(OptionError) as caught:
        OPTIONS.integer("size", value, low=1, high=10)
    assert str(caught.value) == (f"demo backend: [retrieval.vector_options] size must be "
                                 f"{expected}.")


def test_valid_values_come_back() -> None:
    assert OPTIONS.integer("size", 10, low=1, high=10) == 10
    assert OPTIONS.integer("size", 10**9, low=1) == 10**9
    assert OPTIONS.fraction("share", 0.25) == 0.25
    assert OPTIONS.choice("mode", "b", ("a", "b")) == "b"
    assert OPTIONS.text("mode", "x") == "x"


def test_an_unbounded_integer_names_its_minimum() -> None:
    with pytest.raises(OptionError, match="must be an integer of at least 1, not -3"):
        OPTIONS.integer("size", -3, low=1)


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1, math.nan, math.inf, "0.5", False])
def test_fractions_must_lie_strictly_between_0_and_1(value: object) -> None:
    with pytest.raises(OptionError, match=r"a number between 0 and 1 \(exclusive\)"):
        OPTIONS.fraction("share", value)


def test_choices_and_texts() -> None:
    with pytest.raises(OptionError, match="must be one of 'a', 'b', not 'c'"):
        OPTIONS.choice("mode", "c", ("a", "b"))
    with pytest.raises(OptionError, match="must be a non-empty string, not ''"):
        OPTIONS.text("mode", "")


def test_the_hashing_embedder_uses_it(tmp_path: Path) -> None:
    expected = ("hashing embedder: [retrieval.embedder_options] dimension must be an integer "
                "of at least 8, not 4.")
    with pytest.raises(OptionError, match=re.escape(expected)):
        HashingEmbedder(4)
    config = Config.from_mapping({"retrieval": {"embedder": "hashing",
                                                "embedder_options": {"dimensions": 64}}},
                                 data_dir=tmp_path, env={})
    with pytest.raises(OptionError, match=re.escape(
            "'dimensions' in [retrieval.embedder_options]; valid: dimension")):
        Athena.open(config=config)

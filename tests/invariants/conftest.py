"""The invariant suite: each guarantee of docs/security.md, through every entry path.

Runs in the ``invariants`` tox env, which installs every executor plugin and a
third-party plugin whose operations take no ``scope`` (``tests/invariants/plugin``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.invariants.world import World
from tests.sandbox import require_sandbox

pytestmark = require_sandbox()


def _scopeless_installed() -> bool:
    from importlib.metadata import entry_points

    return any(ep.name == "scopeless" for ep in entry_points(group="athena.plugins"))


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Iterator[World]:
    if not _scopeless_installed():
        pytest.skip("the invariant suite needs its test plugin: "
                    "pip install tests/invariants/plugin (tox -e invariants does)")
    world = World(tmp_path_factory.mktemp("invariants") / "home")
    try:
        yield world
    finally:
        world.close()

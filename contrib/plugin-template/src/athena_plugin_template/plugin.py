"""The hook implementations Athena discovers through the ``athena.plugins`` entry point."""

from __future__ import annotations

from athena_core import hookimpl, operation
from athena_core.hookspecs import Register


@operation(permissions="read")
def word_count(athena: object, text: str) -> int:
    """Count the words of ``text`` (an example of a plugin-provided operation)."""
    return len(text.split())


@hookimpl
def athena_register_embedders(register: Register) -> None:
    from athena_plugin_template.embedder import CharTrigramEmbedder

    register("char-trigrams", CharTrigramEmbedder.from_context)


@hookimpl
def athena_register_api(register: Register) -> None:
    register("template.word_count", word_count)

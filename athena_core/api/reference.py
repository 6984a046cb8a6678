"""Human-readable reference of the registered operations (``docs/api.md`` is made from it)."""

from __future__ import annotations

import inspect
from collections.abc import Collection
from itertools import groupby

from athena_core.api.limits import ARGUMENT_LIMITS, DEFAULT_LIMITS, INT64, ArgumentLimits
from athena_core.api.registry import ApiRegistry, Operation
from athena_core.api.validation import describe_type

__all__ = ["limits_markdown", "render_markdown", "signature_text"]


def signature_text(op: Operation, omit: Collection[str] = ()) -> str:
    """``name(param: type = default, *, ...) -> return`` with readable type names;
    the parameters named in ``omit`` left out."""
    parts: list[str] = []
    star_done = False
    for param in op.signature.parameters.values():
        if param.name in omit:
            continue
        if param.kind is param.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        stars = ("*" if param.kind is param.VAR_POSITIONAL
                 else "**" if param.kind is param.VAR_KEYWORD else "")
        star_done = star_done or param.kind is param.VAR_POSITIONAL
        text = f"{stars}{param.name}: {_type_name(param.annotation)}"
        if param.default is not param.empty:
            text += f" = {param.default!r}"
        parts.append(text)
    returns = _type_name(op.signature.return_annotation)
    return f"{op.name}({', '.join(parts)}) -> {returns}"


def _type_name(annotation: object) -> str:
    if annotation is inspect.Parameter.empty:
        return "Any"
    text = inspect.formatannotation(annotation)
    for prefix in ("collections.abc.", "typing.", "datetime.", "athena_core.memory.values."):
        text = text.replace(prefix, "")
    return text


def render_markdown(registry: ApiRegistry) -> str:
    lines = ["# API reference", "",
             "Every operation an agent or host application can call, generated from the API",
             "registry (`python -m athena_core.api.reference > docs/api.md`; a test keeps this",
             "file current). Top-level operations are methods of `Athena`; the others hang off",
             "`athena.<namespace>`.", ""]

    def namespace(op: Operation) -> str:
        return op.namespace or "(top level)"

    for name, ops in groupby(sorted(registry, key=lambda o: (o.namespace, o.name)), namespace):
        lines += [f"## {name}", ""]
        for op in ops:
            lines += [f"### `{op.name}`", "", "```python", signature_text(op), "```", "",
                      f"Permissions: {', '.join(sorted(op.permissions))}.", "", op.doc, ""]
            described = [f"- `{p.name}`: {describe_type(p.annotation)}"
                         for p in op.signature.parameters.values()]
            if described:
                lines += ["Arguments:", "", *described, ""]
            if op.spec.limits:  # its own, in place of the table's below
                lines += ["Its own argument limits:", "",
                          *(f"- `{name}`: {_limits_text(limits)}"
                            for name, limits in sorted(op.spec.limits.items())), ""]
    lines += [limits_markdown()]
    return "\n".join(lines).rstrip() + "\n"


def limits_markdown() -> str:
    """The section of ``docs/api.md`` on errors and argument limits, from
    :mod:`athena_core.api.limits`."""
    lines = [
        "## Errors and argument limits", "",
        "A public operation raises only subclasses of `athena_core.errors.AthenaError`,",
        "whatever its arguments (a sandboxed program receives the same class through",
        "`athena.errors`). A call refused for its arguments changes nothing: no memory, no",
        "index entry, no audit record. Before an operation runs, every argument is checked",
        "against its type and these limits, the same for every door and on SQLite and",
        "PostgreSQL alike; a value past them is an `InvalidArgumentError` that names the",
        "operation, the argument and the limit. At every depth of every argument, strings",
        "are valid Unicode without NUL characters, numbers are finite, and dict keys are",
        "strings. Items count the list items and dict entries at every depth.", "",
        "| argument | longest string (characters) | integers | nesting | items | why |",
        "|---|---|---|---|---|---|",
        _limits_row("any other", DEFAULT_LIMITS)]
    lines += [_limits_row(f"`{name}`", limits) for name, limits in sorted(ARGUMENT_LIMITS.items())]
    return "\n".join(lines) + "\n"


def _limits_text(limits: ArgumentLimits) -> str:
    chars = "no limit" if limits.max_chars is None else f"{limits.max_chars:,}"
    return (f"strings of at most {chars} characters, nesting {limits.max_depth}, "
            f"{limits.max_items:,} items ({limits.why})")


def _limits_row(name: str, limits: ArgumentLimits) -> str:
    chars = "-" if limits.max_chars is None else f"{limits.max_chars:,}"
    if (limits.min_int, limits.max_int) == (-INT64, INT64 - 1):
        ints = "64-bit"
    else:
        ints = f"{limits.min_int:,} to {limits.max_int:,}"
    return (f"| {name} | {chars} | {ints} | {limits.max_depth} | {limits.max_items:,} "
            f"| {limits.why} |")


if __name__ == "__main__":  # pragma: no cover
    import sys
    import tempfile

    from athena_core.runtime import Athena

    with tempfile.TemporaryDirectory() as home, Athena.open(home, entry_points=False) as athena:
        sys.stdout.write(render_markdown(athena.api))

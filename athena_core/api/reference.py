"""Human-readable reference of the registered operations (``docs/api.md`` is made from it)."""

from __future__ import annotations

import inspect
from itertools import groupby

from athena_core.api.registry import ApiRegistry, Operation
from athena_core.api.validation import describe_type

__all__ = ["render_markdown", "signature_text"]


def signature_text(op: Operation) -> str:
    """``name(param: type = default, *, ...) -> return`` with readable type names."""
    parts: list[str] = []
    star_done = False
    for param in op.signature.parameters.values():
        if param.kind is param.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        text = f"{param.name}: {_type_name(param.annotation)}"
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
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    import sys
    import tempfile

    from athena_core.runtime import Athena

    with tempfile.TemporaryDirectory() as home, Athena.open(home, entry_points=False) as athena:
        sys.stdout.write(render_markdown(athena.api))

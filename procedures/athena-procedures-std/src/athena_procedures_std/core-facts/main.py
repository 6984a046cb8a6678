"""The most important current facts, as a short block of text to load into a prompt."""

from typing import Any

import athena


def run(limit: int = 10, min_importance: float = 0.0, max_chars: int = 2000,
        scan: int = 5000) -> dict[str, Any]:
    """The ``limit`` current facts of highest importance (newer first on ties) among the
    newest ``scan``, at least ``min_importance``, as Markdown of at most ``max_chars``."""
    if limit < 1 or scan < 1 or max_chars < 10 or not 0 <= min_importance <= 1:
        raise ValueError("limit, scan >= 1, max_chars >= 10, min_importance in [0, 1]")
    facts: list[dict[str, Any]] = []
    cursor = None
    while len(facts) < scan:
        size = min(1000, scan - len(facts))
        page = athena.semantic.facts(limit=size, cursor=cursor)
        facts.extend(page)
        if len(page) < size:
            break
        cursor = page[-1]["cursor"]
    order = sorted((index for index, fact in enumerate(facts)
                    if fact["importance"] >= min_importance),
                   key=lambda index: (-facts[index]["importance"], index))
    chosen = [facts[index] for index in order]
    lines, used = [], 0
    for fact in chosen[:limit]:
        line = f"- {fact['text']}"
        if used + len(line) + 1 > max_chars:
            break
        lines.append(line)
        used += len(line) + 1
    return {"text": "\n".join(lines), "facts": [
        {"id": fact["id"], "text": fact["text"], "importance": fact["importance"]}
        for fact in chosen[:len(lines)]]}

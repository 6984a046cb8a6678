"""Gather what memory knows that bears on a task, as one brief that fits a budget."""

from typing import Any

import athena


def _item(hit: dict[str, Any]) -> dict[str, Any]:
    return {"id": hit["id"], "text": hit["text"], "at": hit["valid_from"],
            "score": round(hit["score"], 4)}


def run(task: str, k: int = 8, max_chars: int = 4000) -> dict[str, Any]:
    """A context pack for ``task``: relevant facts, past decisions, known pitfalls (past
    errors) and related events, rendered as Markdown of at most ``max_chars``."""
    if not task.strip() or not 1 <= k <= 100 or max_chars < 100:
        raise ValueError("give a task, k from 1 to 100 and max_chars of at least 100")
    facts = [_item(hit) for hit in athena.recall(task, k=k, layers=["semantic"])]
    decisions = [_item(hit) for hit in athena.episodic.search(task, k=k, kind="decision")]
    pitfalls = [_item(hit) for hit in athena.episodic.search(task, k=k, kind="error")]
    seen = {item["id"] for item in decisions + pitfalls}
    events = [_item(hit) for hit in athena.episodic.search(task, k=k)
              if hit["id"] not in seen]
    sections = [("Facts", facts, False), ("Past decisions", decisions, True),
                ("Known pitfalls", pitfalls, True), ("Related events", events, True)]
    lines = [f"# Context for: {task}"]
    used = len(lines[0])
    truncated = False
    for title, items, dated in sections:
        if not items:
            continue
        for number, item in enumerate(items):
            line = f"- {item['at'][:10]}: {item['text']}" if dated else f"- {item['text']}"
            block = (["", f"## {title}"] if number == 0 else []) + [line]
            cost = sum(len(text) + 1 for text in block)
            if used + cost > max_chars:
                truncated = True
                break
            lines.extend(block)
            used += cost
    return {"task": task, "text": "\n".join(lines), "truncated": truncated,
            "facts": facts, "decisions": decisions, "pitfalls": pitfalls, "events": events}

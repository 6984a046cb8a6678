"""Who knows what: the actors of episodic memory ranked by how much they did or said
about a topic, or, without a topic, what each actor was busy with."""

import re
from collections import Counter
from typing import Any

import athena

_WORD = re.compile(r"[a-z][a-z0-9-]{3,}")
_STOP = {"that", "this", "with", "from", "have", "been", "were", "into", "about", "after",
         "before", "there", "their", "they", "then", "than", "when", "what", "which"}


def run(topic: str | None = None, k: int = 200, top: int = 5) -> list[dict[str, Any]]:
    """Actors with events about ``topic`` (the ``k`` most relevant events), best first;
    without a topic, every actor of the newest ``k`` events with their keywords."""
    if not 1 <= k <= 1000 or top < 1:
        raise ValueError("k must be from 1 to 1000 and top at least 1")
    if topic:
        events = athena.episodic.search(topic, k=k)
    else:
        events = athena.episodic.timeline(limit=k, order="desc")
    actors: dict[str, dict[str, Any]] = {}
    for event in events:
        if not event["actor"]:
            continue
        entry = actors.setdefault(event["actor"], {
            "actor": event["actor"], "events": 0, "score": 0.0, "last_seen": "",
            "samples": [], "kinds": Counter(), "words": Counter()})
        entry["events"] += 1
        entry["score"] += event.get("score") or 0.0
        entry["last_seen"] = max(entry["last_seen"], event["valid_from"])
        entry["kinds"][event["kind"]] += 1
        entry["words"].update(word for word in _WORD.findall(event["text"].lower())
                              if word not in _STOP)
        if len(entry["samples"]) < top:
            entry["samples"].append(event["text"])
    ranked = sorted(actors.values(), key=lambda entry: (-entry["score"], -entry["events"],
                                                        entry["actor"]))
    return [{"actor": entry["actor"], "events": entry["events"],
             "score": round(entry["score"], 4), "last_seen": entry["last_seen"],
             "kinds": dict(entry["kinds"].most_common()),
             "keywords": [word for word, _ in entry["words"].most_common(top)],
             "samples": entry["samples"]} for entry in ranked]

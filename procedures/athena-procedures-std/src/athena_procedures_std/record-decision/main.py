"""Record a decision in both memories: an episode of kind ``decision`` (when, who, why,
what else was considered) and a fact that recall finds later."""

from typing import Any

import athena


def run(decision: str, rationale: str, alternatives: list[str] | None = None,
        session: str | None = None, actor: str | None = None,
        topic: str | None = None, importance: float = 0.7) -> dict[str, str]:
    """Record ``decision`` and return the ids of the episode and of the fact."""
    if not decision.strip() or not rationale.strip():
        raise ValueError("a decision needs its text and its rationale")
    context: dict[str, Any] = {"rationale": rationale, "alternatives": alternatives or []}
    if topic:
        context["topic"] = topic
    episode = athena.episodic.record(decision, kind="decision", session=session,
                                     actor=actor, context=context, importance=importance)
    metadata: dict[str, Any] = {"type": "decision", "episode": episode,
                                "rationale": rationale}
    if topic:
        metadata["topic"] = topic
    fact = athena.remember(f"Decision: {decision} (because {rationale})",
                           metadata=metadata, importance=importance)
    return {"episode": episode, "fact": fact}

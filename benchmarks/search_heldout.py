"""Held-out questions for ``search_api``: written before the ranking was retuned for the
knowledge-graph and prospective operations, and committed on their own.

Written on 2026-12-07 without looking at what ``search_api`` returns for them, in other
words than the questions the ranking was tuned on (``tests/test_discovery_quality.py``
and the ``search`` queries of ``benchmarks/tokens.py``). Each is something an agent
writing a program would ask, with the operations that answer it: any one of them does
(``recall`` and ``graph.recall`` both answer "what do I know about X", for example).
``benchmarks/search_quality.py`` scores them: the share whose first result answers
(top-1), the share with an answer among the results of the default limit, and the
operations returned per question. Never tune on them; a later retuning needs a new set.
"""

from __future__ import annotations

__all__ = ["HELD_OUT"]

#: (question, the operations that answer it)
HELD_OUT: list[tuple[str, tuple[str, ...]]] = [
    # --- memory: remember, recall, get, forget -------------------------------------------
    ("keep this preference so a later conversation can use it", ("remember",)),
    ("put a piece of knowledge into long-term storage", ("remember",)),
    ("memorise that the user likes short answers", ("remember",)),
    ("what do I know about the billing service", ("recall", "graph.recall")),
    ("best matching memories for a question in plain words", ("recall",)),
    ("bring back everything relevant to the user's travel plans", ("recall", "graph.recall")),
    ("fetch the full record of memory abc123", ("get",)),
    ("open one specific memory when I already have its key", ("get",)),
    ("wipe all memories stored in the last hour", ("forget",)),
    ("purge the records of a user who asked to be deleted", ("forget",)),
    ("drop these three memory ids for good", ("forget",)),
    # --- episodic -------------------------------------------------------------------------
    ("note in the diary that the build broke at noon", ("episodic.record",)),
    ("append an episode with a kind and an actor", ("episodic.record",)),
    ("chronological list of what the agent did this morning", ("episodic.timeline",)),
    ("every episode between Monday and Friday", ("episodic.timeline",)),
    ("which past episodes talk about a failed payment", ("episodic.search",)),
    ("full-text search over episodes inside a time window", ("episodic.search",)),
    ("what went on during last night's outage",
     ("episodic.search", "episodic.timeline", "recall")),
    # --- semantic -------------------------------------------------------------------------
    ("all the facts I currently hold", ("semantic.facts",)),
    ("which facts were true last January", ("semantic.facts",)),
    ("page through stored facts, skipping the first hundred", ("semantic.facts",)),
    ("the user moved to Berlin, revise the stored fact", ("semantic.update", "graph.correct")),
    ("write a new version of a fact and keep the old one", ("semantic.update",)),
    ("audit trail of the edits made to one fact", ("semantic.history",)),
    # --- privacy --------------------------------------------------------------------------
    ("is there a credit card number in this message", ("privacy.scan",)),
    ("check a text for secrets like API keys before storing it", ("privacy.scan",)),
    ("which parts of this paragraph identify a person", ("privacy.scan",)),
    # --- procedures -----------------------------------------------------------------------
    ("execute the weekly review procedure", ("procedures.run",)),
    ("invoke a reusable routine by its id with parameters", ("procedures.run",)),
    ("what procedures exist for summarising a session", ("procedures.list",)),
    ("search the procedure catalog by keyword", ("procedures.list",)),
    ("the code and input schema of one procedure", ("procedures.show",)),
    ("store a new version of a procedure together with its tests", ("procedures.save",)),
    ("turn this snippet into a named, tested routine", ("procedures.save",)),
    ("commits of a procedure, newest first", ("procedures.history",)),
    ("who changed a procedure and when", ("procedures.history",)),
    # --- knowledge graph ------------------------------------------------------------------
    ("create an entity for a person called Alice", ("graph.entity",)),
    ("register another name a company is known by", ("graph.entity",)),
    ("state that Alice works at Acme", ("graph.relate",)),
    ("connect two entities with a relation", ("graph.relate",)),
    ("record that the server has 16 cpus", ("graph.observe",)),
    ("set an attribute of an entity for a period of time", ("graph.observe",)),
    ("which entities are directly connected to Acme", ("graph.neighbours",)),
    ("who does Bob report to, and who reports to him", ("graph.neighbours",)),
    ("how is Alice linked to the payments team", ("graph.path",)),
    ("shortest chain of relations between two entities", ("graph.path",)),
    ("what did we believe about Acme back in March", ("graph.as_of",)),
    ("an entity's relations at a past time as they were recorded then", ("graph.as_of",)),
    ("everything that is true about Bob right now", ("graph.current",)),
    ("all facts ever recorded about an entity, retracted ones too", ("graph.history",)),
    ("this relation was wrong, stop believing it", ("graph.retract",)),
    ("fix the object of a relation that was entered wrongly", ("graph.correct",)),
    ("make works_at hold only one value at a time", ("graph.declare",)),
    ("define a new relation type", ("graph.declare",)),
    ("when someone's address changes, mark their commute facts stale", ("graph.cascade",)),
    ("which entities and relations would be pulled out of this sentence", ("graph.extract",)),
    ("build graph edges from a stored memory", ("graph.link",)),
    ("export the neighbourhood of two entities as GraphML", ("graph.subgraph",)),
    ("clusters of related entities in the graph", ("graph.communities",)),
    ("memories that mention the people named in my question", ("graph.recall",)),
    # --- prospective ----------------------------------------------------------------------
    ("remind me tomorrow at 9 to check the backups", ("prospective.add",)),
    ("create a goal with subtasks", ("prospective.add",)),
    ("schedule a recurring task every Monday", ("prospective.add",)),
    ("which reminders are due right now", ("prospective.due",)),
    ("my open tasks ordered by priority", ("prospective.list",)),
    ("list the overdue intentions", ("prospective.list",)),
    ("mark the task finished with its result", ("prospective.done",)),
    ("abandon a task, recording why it could not be done", ("prospective.fail",)),
    ("call off a reminder I no longer need", ("prospective.cancel",)),
    ("begin working on a task", ("prospective.start",)),
    ("task B has to wait until task A is complete", ("prospective.depend",)),
    ("details and notes of one task", ("prospective.get",)),
    ("when did a scheduled reminder fire, and was it delivered", ("prospective.runs",)),
    ("tell Athena an error just happened so matching reminders go off",
     ("prospective.triggered",)),
    ("I just opened the billing repository: any reminders for this place?",
     ("prospective.triggered",)),
]

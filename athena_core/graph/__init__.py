"""The knowledge graph: entities, typed relations and observations in two times.

Every fact is true in the world over a valid interval and believed by Athena over a
record interval; writes only append, so ``as_of(valid_time, record_time)`` answers both
"what was true then" and "what did we believe then". :class:`Graph` holds the ``graph``
operations; see ``docs/layers.md``.
"""

from athena_core.graph.model import Fact, check_interval, entity_key, visible
from athena_core.graph.service import Graph

__all__ = ["Fact", "Graph", "check_interval", "entity_key", "visible"]

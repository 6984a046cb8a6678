"""Subgraphs as JSON or GraphML, and communities (with the optional ``networkx``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

from sqlalchemy import and_, or_, select

from athena_core._time import isoformat
from athena_core.errors import MissingExtraError
from athena_core.graph.store import entity_names, visible_clause
from athena_core.storage.models import GraphEntityRow, GraphFactRow

__all__ = ["collect_subgraph", "communities", "to_graphml"]

_facts = GraphFactRow.__table__


def _edges(db: Any, scope: str, keys: set[int] | None, *, valid_time: datetime,
           record_time: datetime) -> list[Any]:
    """Facts visible at the two times touching ``keys`` (every fact if ``None``)."""
    query = select(_facts).where(_facts.c.scope == scope, visible_clause(valid_time, record_time))
    if keys is not None:
        wanted = sorted(keys)
        query = query.where(or_(_facts.c.subject_pk.in_(wanted),
                                and_(_facts.c.object_pk.is_not(None),
                                     _facts.c.object_pk.in_(wanted))))
    return list(db.execute(query.order_by(_facts.c.pk)))


def collect_subgraph(db: Any, scope: str, start: Sequence[int], *, depth: int,
                     valid_time: datetime, record_time: datetime) -> dict[str, Any]:
    """The entities within ``depth`` relations of ``start``, the relations among them and
    their observations, as JSON data."""
    keys = set(start)
    for _ in range(depth):
        reached = {pk for row in _edges(db, scope, keys, valid_time=valid_time,
                                        record_time=record_time)
                   if row.object_pk is not None for pk in (row.subject_pk, row.object_pk)}
        if reached <= keys:
            break
        keys |= reached
    facts = [row for row in _edges(db, scope, keys, valid_time=valid_time,
                                   record_time=record_time)
             if row.subject_pk in keys and (row.object_pk is None or row.object_pk in keys)]
    names = entity_names(db, keys)
    return {
        "nodes": [{"name": names[pk][0], "type": names[pk][1]} for pk in sorted(keys)],
        "edges": [{"id": row.id, "source": names[row.subject_pk][0],
                   "target": names[row.object_pk][0], "predicate": row.predicate,
                   "attributes": dict(row.attributes or {}),
                   "valid_from": isoformat(row.valid_from), "valid_to": isoformat(row.valid_to)}
                  for row in facts if row.object_pk is not None],
        "observations": [{"id": row.id, "entity": names[row.subject_pk][0],
                          "predicate": row.predicate, "value": row.value,
                          "valid_from": isoformat(row.valid_from),
                          "valid_to": isoformat(row.valid_to)}
                         for row in facts if row.object_pk is None],
        "valid_time": isoformat(valid_time), "record_time": isoformat(record_time)}


def to_graphml(graph: dict[str, Any]) -> str:
    """``graph`` (from :func:`collect_subgraph`) as a GraphML document: nodes keyed by
    name with a ``type``; directed edges with ``predicate``, ``valid_from``, ``valid_to``;
    observations as node data ``observations`` (JSON text)."""
    import json

    ns = "http://graphml.graphdrawing.org/xmlns"
    root = ElementTree.Element("graphml", xmlns=ns)
    for key, target in (("type", "node"), ("observations", "node"), ("predicate", "edge"),
                        ("valid_from", "edge"), ("valid_to", "edge")):
        ElementTree.SubElement(root, "key", {"id": key, "for": target, "attr.name": key,
                                             "attr.type": "string"})
    graph_element = ElementTree.SubElement(root, "graph", edgedefault="directed")
    observed: dict[str, list[dict[str, Any]]] = {}
    for item in graph["observations"]:
        observed.setdefault(item["entity"], []).append(
            {"predicate": item["predicate"], "value": item["value"]})
    for node in graph["nodes"]:
        element = ElementTree.SubElement(graph_element, "node", id=node["name"])
        ElementTree.SubElement(element, "data", key="type").text = node["type"]
        if node["name"] in observed:
            ElementTree.SubElement(element, "data", key="observations").text = json.dumps(
                observed[node["name"]], sort_keys=True)
    for edge in graph["edges"]:
        element = ElementTree.SubElement(graph_element, "edge", id=edge["id"],
                                         source=edge["source"], target=edge["target"])
        for key in ("predicate", "valid_from", "valid_to"):
            if edge[key] is not None:
                ElementTree.SubElement(element, "data", key=key).text = edge[key]
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)


def communities(db: Any, scope: str, *, valid_time: datetime, record_time: datetime
                ) -> list[list[str]]:
    """Greedy-modularity communities of the relations visible at the two times, largest
    first (ties by first name), each a sorted list of entity names."""
    try:
        import networkx
        from networkx.algorithms.community import greedy_modularity_communities
    except ImportError:
        raise MissingExtraError(
            "graph.communities needs the optional package networkx, which is not "
            "installed.", hint="Install it with: pip install 'athena-core[graph]'.") from None
    graph = networkx.Graph()
    names = {row.pk: row.name for row in db.execute(
        select(GraphEntityRow.pk, GraphEntityRow.name).where(GraphEntityRow.scope == scope))}
    for row in _edges(db, scope, None, valid_time=valid_time, record_time=record_time):
        if row.object_pk is not None and row.object_pk != row.subject_pk:
            graph.add_edge(names[row.subject_pk], names[row.object_pk])
    if graph.number_of_edges() == 0:
        return []
    found = [sorted(group) for group in greedy_modularity_communities(graph)]
    return sorted(found, key=lambda group: (-len(group), group[0]))

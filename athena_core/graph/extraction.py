"""Proposing entities and relations from text, and the validation every proposal passes.

:func:`rule_proposals` needs no model: it finds e-mail addresses, URLs, file paths,
dates, identifiers (``ABC-123``, UUIDs, long hex digests), names (runs of capitalised
words), the placeholders the privacy pipeline put in place of sensitive values
(``[EMAIL_k3x7q2mz]``: an entity of that type, named by its placeholder, never the value)
and "X is Y's Z" / "Y's Z is X" sentences (a relation ``Y -Z-> X``).

Plugins may add proposals - from a language model, say - through the
``athena_graph_proposals`` hook. Whatever their origin, proposals only reach the graph
through :func:`validate`: every entity name must occur in the text it was proposed from
(so a proposal cannot invent an entity, nor bring in a value the stored text holds only as
a placeholder), types and predicates must be well-formed (and declared, when the scope
declares types), and a relation's ends must be proposed or known entities. What fails is
reported, never written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from athena_core.graph.model import MAX_NAME_CHARS, entity_key

__all__ = ["Proposal", "Rejected", "Validated", "rule_proposals", "validate"]

_PLACEHOLDER = re.compile(r"\[([A-Z][A-Z0-9_]*?)_[a-z0-9]{6,}\]")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_URL = re.compile(r"\bhttps?://[^\s<>\"'\]\)]+", re.IGNORECASE)
_PATH = re.compile(r"(?<![\w/])(?:~|\.{1,2})?(?:/[\w.@+-]+){2,}/?")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?\b")
_IDENTIFIER = re.compile(
    r"\b(?:[A-Z][A-Z0-9]{1,9}-\d{1,7}"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|[0-9a-f]{12,64})\b")
_WORD = r"[A-Z][\w'-]*"
_NAME = re.compile(rf"\b{_WORD}(?:\s+(?:{_WORD}|of|de|van|von|der|la|le))*(?:\s+{_WORD})?")
_STOP_WORDS = (
    "the a an this that these those it its he she they we i you his her their our my your "
    "when where what who why how if then there here and or but on in at to for from by with "
    "of is was are were be been has have had do does did not no yes also after before since "
    "until")
_STOP = frozenset(_STOP_WORDS.split())
_ENTITY = r"(?:\[[A-Z][A-Z0-9_]*_[a-z0-9]{6,}\]|[A-Z][\w.@'-]*(?:\s+[A-Z][\w.@'-]*){0,3})"
_RELATION = r"(?P<predicate>[a-z][a-z -]{0,40}?)"
_IS_POSSESSIVE = re.compile(
    rf"(?P<object>{_ENTITY})\s+is\s+(?P<subject>{_ENTITY})'s\s+{_RELATION}"
    r"(?=[.,;:!?)]|\s+(?:and|but|since|from|until|who|which)\b|$)")
_POSSESSIVE_IS = re.compile(
    rf"(?P<subject>{_ENTITY})'s\s+{_RELATION}\s+is\s+(?P<object>{_ENTITY})")
_PREDICATE = re.compile(r"[a-z][a-z0-9_]{0,127}")
_TYPE = re.compile(r"[a-z][a-z0-9_]{0,63}")


@attrs.frozen
class Proposal:
    """Entities (``{"name", "type"}``) and relations (``{"subject", "predicate",
    "object"}``) proposed for a text, by ``origin`` (``rules`` or a plugin's name)."""

    origin: str
    entities: tuple[Mapping[str, Any], ...] = ()
    relations: tuple[Mapping[str, Any], ...] = ()


@attrs.frozen
class Rejected:
    """A proposed item that validation refused, and why (no memory content)."""

    origin: str
    item: str
    why: str

    def to_dict(self) -> dict[str, str]:
        return {"origin": self.origin, "item": self.item, "why": self.why}


@attrs.frozen
class Validated:
    """What may be written: entities (name, type) and relations (subject, predicate,
    object), each once; and what was refused."""

    entities: tuple[tuple[str, str], ...]
    relations: tuple[tuple[str, str, str], ...]
    rejected: tuple[Rejected, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"entities": [{"name": n, "type": t} for n, t in self.entities],
                "relations": [{"subject": s, "predicate": p, "object": o}
                              for s, p, o in self.relations],
                "rejected": [item.to_dict() for item in self.rejected]}


def predicate_name(words: str) -> str:
    """A phrase as a relation type: lower case, words joined by ``_`` ("best friend" ->
    ``best_friend``)."""
    return "_".join(re.findall(r"[a-z0-9]+", words.lower()))


def rule_proposals(text: str) -> Proposal:
    """What the rules find in ``text`` (see the module docstring)."""
    entities: dict[str, dict[str, str]] = {}
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, type_: str) -> None:
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            return
        taken.append((start, end))
        value = text[start:end].strip().rstrip(".,;:")
        entities.setdefault(entity_key(value), {"name": value, "type": type_})

    for match in _PLACEHOLDER.finditer(text):
        add(*match.span(), match.group(1).lower())
    for pattern, type_ in ((_URL, "url"), (_EMAIL, "email"), (_PATH, "path"),
                           (_DATE, "date"), (_IDENTIFIER, "identifier")):
        for match in pattern.finditer(text):
            add(*match.span(), type_)
    relations: list[dict[str, str]] = []
    for pattern in (_IS_POSSESSIVE, _POSSESSIVE_IS):
        for match in pattern.finditer(text):
            subject, obj = match.group("subject").strip(), match.group("object").strip()
            if entity_key(subject) in _STOP or entity_key(obj) in _STOP:
                continue
            relations.append({"subject": subject, "predicate":
                              predicate_name(match.group("predicate")), "object": obj})
            for name in (subject, obj):
                entities.setdefault(entity_key(name), {"name": name, "type": _type_of(name)})
    for match in _NAME.finditer(text):
        words = match.group(0).split()
        while words and words[0].casefold() in _STOP:
            words.pop(0)
        while words and words[-1].casefold() in _STOP | {"of", "de", "van", "von", "der"}:
            words.pop()
        if not words or (len(words) == 1 and _sentence_start(text, match.start())):
            continue
        name = " ".join(words).removesuffix("'s")
        if len(name) > 1:
            start = match.start() + match.group(0).index(words[0])
            add(start, start + len(name), "name")
    return Proposal("rules", tuple(entities.values()), tuple(relations))


def validate(text: str, proposals: Iterable[Proposal], *,
             known: Callable[[str], str | None],
             declared: Mapping[str, bool]) -> Validated:
    """Keep what every proposal may write (see the module docstring). ``known(name)`` is
    the type of an entity the graph already holds, or ``None``; ``declared`` the scope's
    declared types (empty: any well-formed predicate)."""
    folded = text.casefold()
    entities: dict[str, tuple[str, str]] = {}
    relations: dict[tuple[str, str, str], tuple[str, str, str]] = {}
    rejected: list[Rejected] = []

    def name_problem(name: Any) -> str | None:
        if not isinstance(name, str) or not name.strip():
            return "a name must be a non-empty string"
        if len(name) > MAX_NAME_CHARS:
            return f"a name is at most {MAX_NAME_CHARS} characters"
        if " ".join(name.split()).casefold() not in " ".join(folded.split()):
            return "the name does not occur in the text it was proposed from"
        return None

    for proposal in proposals:
        for item in proposal.entities:
            name, type_ = item.get("name"), item.get("type", "thing")
            why = name_problem(name) or (None if isinstance(type_, str) and _TYPE.fullmatch(
                type_) else "a type is lower-case letters, digits and _ (at most 64)")
            if why:
                rejected.append(Rejected(proposal.origin, "entity", why))
                continue
            assert isinstance(name, str) and isinstance(type_, str)
            existing = known(name)
            key = entity_key(name)
            if existing is None and key in entities and entities[key][1] == "name":
                del entities[key]  # a specific type beats the rules' generic "name"
            entities.setdefault(key, (name.strip(), existing or type_))
        for item in proposal.relations:
            subject, predicate, obj = (item.get("subject"), item.get("predicate"),
                                       item.get("object"))
            why = name_problem(subject) or name_problem(obj)
            if why is None and not (isinstance(predicate, str)
                                    and _PREDICATE.fullmatch(predicate)):
                why = "a relation type is lower-case letters, digits and _ (at most 128)"
            if why is None and declared and predicate not in declared:
                why = "the relation type is not declared in this scope"
            if why is None:
                assert isinstance(subject, str) and isinstance(obj, str)
                missing = [name for name in (subject, obj)
                           if entity_key(name) not in entities and known(name) is None]
                if missing:
                    why = "a relation's subject and object must be proposed or known entities"
            if why:
                rejected.append(Rejected(proposal.origin, "relation", why))
                continue
            assert isinstance(subject, str) and isinstance(obj, str)
            assert isinstance(predicate, str)
            relations.setdefault((entity_key(subject), predicate, entity_key(obj)),
                                 (subject.strip(), predicate, obj.strip()))
    return Validated(tuple(entities.values()), tuple(relations.values()), tuple(rejected))


def _type_of(name: str) -> str:
    found = _PLACEHOLDER.fullmatch(name)
    return found.group(1).lower() if found else "name"


def _sentence_start(text: str, index: int) -> bool:
    before = text[:index].rstrip()
    return not before or before[-1] in ".!?:\n"

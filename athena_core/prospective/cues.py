"""Event and context triggers: conditions, the events they match, and the cue keys that
find candidate triggers without scanning them all.

A condition (``when=``) holds any of: ``operation`` (an operation's dotted name),
``kind`` and ``outcome`` (of an episode), ``keyword`` (a word) and ``entity`` (a name of
one or more words), which make an *event* trigger; and ``session``, ``tags`` (all must
be present) and ``path`` (the event's path is it or lies under it), which alone make a
*context* trigger. Every part given must match. Words match whole and in any case
(``deploy`` matches "Deploy!" but not "deployment"). Triggers only see events of their
own scope, and match texts as stored (with ``[privacy] conceal`` on, a sensitive value
is a placeholder there, so a keyword that is one never matches).

Each trigger is filed under one *cue key* from its condition (``word:deploy``,
``op:procedures.run``, ``path:/srv/app``...); an event computes its own keys
(:meth:`Event.cue_keys`: its words, its path and each of its parents, ...) and one
indexed query finds the triggers filed
under them, whose full conditions are then checked. The cost of an event grows with the
event's size, not with the number of triggers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from athena_core.errors import ScheduleError

__all__ = ["CONDITION_PARTS", "Condition", "Event", "words"]

EVENT_PARTS = ("operation", "kind", "outcome", "keyword", "entity")
CONTEXT_PARTS = ("session", "tags", "path")
CONDITION_PARTS = EVENT_PARTS + CONTEXT_PARTS
#: At most this many distinct words of an event are looked up (its first ones).
MAX_EVENT_WORDS = 4096
_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_VALUE = 200
_ACCEPTED = ("a dict with any of operation, kind, outcome, keyword, entity (event "
             "triggers) and session, tags, path (context triggers), e.g. "
             "{'kind': 'error', 'keyword': 'deploy'} or {'path': '/srv/app', 'tags': ['db']}")


def words(text: str) -> list[str]:
    """The words of ``text``, lower case, in order."""
    return [word.lower() for word in _WORD.findall(text)]


def _path_keys(path: str) -> list[str]:
    """``path`` and each of its parents (``/a/b/c`` -> ``/a/b/c``, ``/a/b``, ``/a``, ``/``)."""
    clean = "/" + "/".join(part for part in path.replace("\\", "/").split("/") if part)
    keys = [clean]
    while clean != "/":
        clean = clean.rsplit("/", 1)[0] or "/"
        keys.append(clean)
    return keys


def _problem(message: str) -> ScheduleError:
    return ScheduleError(f"Invalid trigger condition: {message}. Accepted: {_ACCEPTED}.",
                         argument="when")


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_VALUE:
        raise _problem(f"{name} must be a non-empty string of at most {_MAX_VALUE} "
                       "characters")
    return value.strip()


@attrs.frozen
class Condition:
    """What an event must carry for a trigger to fire (see the module docstring)."""

    operation: str | None = None
    kind: str | None = None
    outcome: str | None = None
    keyword: str | None = None
    entity: tuple[str, ...] | None = None
    session: str | None = None
    tags: tuple[str, ...] = ()
    path: str | None = None

    @classmethod
    def parse(cls, when: Mapping[str, Any]) -> Condition:
        """The condition ``when`` describes; raises ``ScheduleError`` naming what is
        wrong and what is accepted."""
        if not isinstance(when, Mapping) or not when:
            raise _problem("it is empty or not a dict")
        unknown = sorted(str(key)[:30] for key in when if key not in CONDITION_PARTS)
        if unknown:
            raise _problem(f"unknown part(s) {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name in ("operation", "kind", "outcome", "session"):
            if when.get(name) is not None:
                values[name] = _text(when[name], name)
        if when.get("keyword") is not None:
            keyword = words(_text(when["keyword"], "keyword"))
            if len(keyword) != 1:
                raise _problem("keyword must be one word (use entity for a name of "
                               "several)")
            values["keyword"] = keyword[0]
        if when.get("entity") is not None:
            entity = tuple(words(_text(when["entity"], "entity")))
            if not entity:
                raise _problem("entity holds no word")
            values["entity"] = entity
        if when.get("tags") is not None:
            tags = when["tags"]
            tags = [tags] if isinstance(tags, str) else tags
            if not isinstance(tags, Sequence) or not tags:
                raise _problem("tags must be a tag or a non-empty list of tags")
            values["tags"] = tuple(sorted({_text(tag, "a tag") for tag in tags}))
        if when.get("path") is not None:
            values["path"] = _path_keys(_text(when["path"], "path"))[0]
        if not values:
            raise _problem("it names nothing to match")
        return cls(**values)

    @property
    def family(self) -> str:
        """``event`` if it names something that happens, else ``context``."""
        return "event" if any(getattr(self, name) for name in EVENT_PARTS) else "context"

    def to_dict(self) -> dict[str, Any]:
        """The condition as stored (and as ``when`` gives it back)."""
        found: dict[str, Any] = {}
        for name in CONDITION_PARTS:
            value = getattr(self, name)
            if value:
                found[name] = " ".join(value) if name == "entity" else \
                    list(value) if name == "tags" else value
        return found

    def cue(self) -> str:
        """The one key this condition is filed under: its most selective part."""
        if self.entity:
            return "word:" + max(self.entity, key=len)
        if self.keyword:
            return "word:" + self.keyword
        for name, prefix in (("operation", "op"), ("outcome", "outcome"), ("kind", "kind"),
                             ("path", "path"), ("session", "session")):
            if getattr(self, name):
                return f"{prefix}:{getattr(self, name)}"
        return "tag:" + self.tags[0]

    def matches(self, event: Event) -> bool:
        """Whether ``event`` carries every part of this condition."""
        if self.operation and event.operation != self.operation:
            return False
        if self.kind and event.kind != self.kind:
            return False
        if self.outcome and event.outcome != self.outcome:
            return False
        if self.session and event.session != self.session:
            return False
        if self.tags and not set(self.tags) <= set(event.tags):
            return False
        if self.path and (event.path is None or self.path not in _path_keys(event.path)):
            return False
        if self.keyword and self.keyword not in event.word_set:
            return False
        return not (self.entity and not _contains(event.words, self.entity))


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    size = len(needle)
    return any(tuple(haystack[index:index + size]) == tuple(needle)
               for index in range(len(haystack) - size + 1))


@attrs.frozen
class Event:
    """Something that happened (a write, an operation call) or a context announced."""

    #: Identifies the event: a trigger fires at most once per event id.
    id: str
    operation: str | None = None
    kind: str | None = None
    outcome: str | None = None
    session: str | None = None
    tags: tuple[str, ...] = ()
    path: str | None = None
    words: tuple[str, ...] = ()

    @property
    def word_set(self) -> frozenset[str]:
        return frozenset(self.words)

    @classmethod
    def of(cls, id: str, *, text: str | None = None, operation: str | None = None,
           kind: str | None = None, outcome: str | None = None, session: str | None = None,
           tags: Iterable[str] | None = None, path: str | None = None) -> Event:
        return cls(id, operation, kind, outcome, session,
                   tuple(str(tag) for tag in tags or ()), path or None,
                   tuple(words(text or "")))

    @classmethod
    def of_memory(cls, memory: Any) -> Event:
        """The event of a stored memory (an episode's kind, outcome and session; tags and
        a path from its metadata: ``tags``, and ``path``, ``file`` or ``cwd``)."""
        metadata = getattr(memory, "metadata", None) or {}
        tags = metadata.get("tags")
        tags = [tags] if isinstance(tags, str) else tags if isinstance(tags, list) else []
        path = next((metadata[name] for name in ("path", "file", "cwd")
                     if isinstance(metadata.get(name), str) and metadata[name]), None)
        return cls.of(memory.id, text=memory.text, kind=getattr(memory, "kind", None),
                      outcome=getattr(memory, "outcome", None),
                      session=getattr(memory, "session", None),
                      tags=[str(tag) for tag in tags if isinstance(tag, str | int)], path=path)

    def cue_keys(self) -> list[str]:
        """The cue keys of this event (what triggers may be filed under)."""
        keys = [f"word:{word}" for word in dict.fromkeys(self.words)][:MAX_EVENT_WORDS]
        for name, prefix in (("operation", "op"), ("outcome", "outcome"), ("kind", "kind"),
                             ("session", "session")):
            if getattr(self, name):
                keys.append(f"{prefix}:{getattr(self, name)}")
        keys += [f"tag:{tag}" for tag in self.tags]
        if self.path:
            keys += [f"path:{key}" for key in _path_keys(self.path)]
        return [key[:255] for key in keys]

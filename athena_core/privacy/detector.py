"""The detector protocol, and the regular-expression rules the built-in detectors are made of.

A detector is what a plugin registers through ``athena_register_pii_detectors``: an
object with the ``types`` it may report and a ``detect(text)`` method that returns
:class:`~athena_core.privacy.spans.Span` values. The built-in detectors are
:class:`RuleDetector` values: precompiled patterns, each with an optional check (a
checksum, a number range, a look-alike test) that a match must pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from athena_core.privacy.spans import Span

__all__ = ["Detector", "DetectorContext", "Rule", "RuleDetector", "literal_alternation",
           "unescape_breaks"]


@attrs.frozen
class DetectorContext:
    """What a detector's factory is called with."""

    #: The name the detector was registered under: what its spans name as ``detector``.
    name: str
    #: Options for this detector (reserved: empty in this version).
    options: Mapping[str, Any] = attrs.field(factory=dict)


@runtime_checkable
class Detector(Protocol):
    """Finds sensitive values in text.

    ``types`` names every type its spans may have (lower-case words joined by ``_``,
    such as ``employee_id``); configuration selects detection by these names.
    ``detect(text)`` returns the spans it finds, in any order, overlapping or not: the
    caller merges them (:func:`~athena_core.privacy.spans.merge_spans`). It must not
    keep or log the text, and it is called from several threads at once.
    """

    #: The type names this detector's spans may have.
    types: Sequence[str]

    def detect(self, text: str) -> Iterable[Span]:
        """The spans of sensitive values in ``text``, in any order, overlapping or not."""
        ...  # pragma: no cover - a protocol


#: A rule's check: gets the match and the whole text, returns the confidence of a finding
#: (0 < c <= 1), or ``None`` to drop the match.
Check = Callable[["re.Match[str]", str], "float | None"]


def _always(match: re.Match[str], text: str) -> float:
    return 1.0


def shortest_match(pattern: re.Pattern[str]) -> int:
    """The length of the shortest text ``pattern`` can match: texts shorter than that
    need not be searched (0 where the pattern cannot be analysed)."""
    try:
        from re import _parser  # type: ignore[attr-defined]  # reports widths

        return int(_parser.parse(pattern.pattern, pattern.flags).getwidth()[0])
    except Exception:  # another Python's parser: search every text
        return 0


def literal_alternation(words: Iterable[str]) -> str:
    """A pattern matching any of ``words``, factored by their first characters as a trie
    (``a(?:ge-|tatt3)|d(?:api|p\\.)``): the regular expression engine tries one branch
    at a position instead of every word, which matters for an anchor of many prefixes."""
    def branch(group: list[str]) -> str:
        if "" in group:
            rest = [word for word in group if word]
            return f"(?:{branch(rest)})?" if rest else ""
        firsts = sorted({word[0] for word in group})
        parts = [re.escape(first) + branch([word[1:] for word in group if word[0] == first])
                 for first in firsts]
        return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
    return branch(sorted(set(words)))


#: Up to this many keywords, a substring test each is faster than a scan of their trie.
_FEW_KEYWORDS = 4


@attrs.frozen
class Rule:
    """One precompiled pattern of a detector: a match of ``group`` is a value of ``type``.

    ``group`` may name several groups: the span is the first that took part in the match.
    ``keywords`` (lower case): the rule runs only on texts holding one of these strings
    (a fast substring test of the lower-cased text that skips the pattern on most texts);
    empty: always. ``not_after``: characters that must not come right before a match (the
    whole match, whichever ``group`` is the span), except, with ``camel_case``, before
    a capital that starts a word of an identifier in camel or Pascal case (``bindPassword``,
    ``SmtpPwd``: a small letter or digit, then the capital the match starts with).
    Testing this after the match, rather than with a look-behind at the start of the
    pattern, keeps a pattern that starts with a literal (``ghp_``) on the regular
    expression engine's fast literal search.
    """

    type: str
    pattern: re.Pattern[str]
    check: Check = _always
    group: int | str | tuple[str, ...] = 0
    keywords: tuple[str, ...] = ()
    not_after: frozenset[str] = frozenset()
    camel_case: bool = False
    #: A case-sensitive pattern run on the lower-cased text to find where ``pattern`` may
    #: start (a case-insensitive pattern that starts with words is many times slower to
    #: search for than the same words in lower case); ``pattern`` is then tried there.
    anchor: re.Pattern[str] | None = None
    #: For a pattern that is an alternation of named groups, one per type (many vendors'
    #: prefixes searched in one pass): group name -> type. A match's type is then the
    #: type of the group that matched; ``type`` names the rule.
    group_types: tuple[tuple[str, str], ...] = ()

    #: The shortest text the pattern can match (texts shorter are not searched).
    shortest: int = attrs.field(init=False)

    @shortest.default
    def _shortest(self) -> int:
        return shortest_match(self.pattern)

    #: Whether a lower-cased text holds one of ``keywords``: a substring test per keyword
    #: for a few, one scan of their trie (:func:`literal_alternation`) for many.
    holds_keyword: Callable[[str], bool] = attrs.field(init=False)

    @holds_keyword.default
    def _holds_keyword(self) -> Callable[[str], bool]:
        if len(self.keywords) <= _FEW_KEYWORDS:
            keywords = self.keywords
            return lambda folded: any(map(folded.__contains__, keywords))
        search = re.compile(literal_alternation(self.keywords)).search
        return lambda folded: search(folded) is not None

    #: The types this rule's spans may have (computed once: detection asks on every text).
    types: tuple[str, ...] = attrs.field(init=False)

    @types.default
    def _types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(kind for _, kind in self.group_types)) or (self.type,)

    def _matches(self, text: str, folded: str) -> Iterable[re.Match[str]]:
        if self.anchor is None or len(folded) != len(text):
            yield from self.pattern.finditer(text)
            return
        end = 0
        for candidate in self.anchor.finditer(folded):
            if candidate.start() >= end:
                match = self.pattern.match(text, candidate.start())
                if match is not None:
                    end = match.end()
                    yield match

    def spans(self, text: str, detector: str, folded: str) -> Iterable[Span]:
        if len(text) < self.shortest or (self.keywords and not self.holds_keyword(folded)):
            return
        yield from self.found(text, detector, folded)

    def found(self, text: str, detector: str, folded: str) -> Iterable[Span]:
        """The spans of ``text`` (``folded``: in lower case), without the length and
        keyword tests of :meth:`spans` (the caller has made them)."""
        groups = self.group if isinstance(self.group, tuple) else (self.group,)
        for match in self._matches(text, folded):
            start, end = next((span for span in map(match.span, groups) if span[0] >= 0),
                              (-1, -1))
            at = match.start()
            if start == end or (at and text[at - 1] in self.not_after
                                and not (self.camel_case and _camel_boundary(text, at))):
                continue
            confidence = self.check(match, text)
            if confidence is not None:
                kind = dict(self.group_types).get(match.lastgroup or "", self.type)
                yield Span(kind, start, end, detector, confidence)


def _camel_boundary(text: str, at: int) -> bool:
    """Whether a word of a camel-case identifier starts at ``at``: a capital after a small
    letter or a digit (``bind|Password``, ``Smtp|Pwd``)."""
    return text[at].isupper() and (text[at - 1].islower() or text[at - 1].isdigit())


@attrs.frozen
class RuleDetector:
    """A detector made of :class:`Rule` values (every built-in detector is one)."""

    name: str
    rules: tuple[Rule, ...]
    #: The shortest text any rule can match: shorter texts (an id, a count, a flag in an
    #: operation's result) hold nothing this detector finds, and are not searched.
    shortest: int = attrs.field(init=False)

    @shortest.default
    def _shortest(self) -> int:
        return min((rule.shortest for rule in self.rules), default=0)

    #: The types its rules report (computed once: detection asks on every text).
    types: tuple[str, ...] = attrs.field(init=False)

    @types.default
    def _types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(kind for rule in self.rules for kind in rule.types))

    #: Whether a rule needs the text in lower case (for its keywords or anchor).
    folds: bool = attrs.field(init=False)

    @folds.default
    def _folds(self) -> bool:
        return any(rule.keywords or rule.anchor for rule in self.rules)

    def detect(self, text: str) -> list[Span]:
        if len(text) < self.shortest:
            return []
        text = unescape_breaks(text)
        folded = text.lower() if self.folds else text
        holds: dict[tuple[str, ...], bool] = {}  # rules share keywords: test each set once
        found: list[Span] = []
        for rule in self.rules:
            if len(text) < rule.shortest:
                continue
            if rule.keywords:
                held = holds.get(rule.keywords)
                if held is None:
                    held = holds[rule.keywords] = rule.holds_keyword(folded)
                if not held:
                    continue
            found += rule.found(text, self.name, folded)
        return found


_ESCAPED_BREAK = re.compile(r"\\[nrt]")
#: An HTML line break: ``<br>``, ``<br/>``, ``<br />``, in any case.
_HTML_BREAK = re.compile(r"<[bB][rR][ \t]*/?>")


def unescape_breaks(text: str) -> str:
    """``text`` with each escaped line break or tab (the two characters ``\\n``, ``\\r``
    or ``\\t``, as in a JSON string or a log record) and each HTML line break (``<br>``,
    ``<br />``, as in a chat export's HTML) replaced by as many spaces.

    The rules then see the break as the boundary it stands for: in
    ``"Phone:\\n+44 20 7183 0958"`` the number starts after ``n``, which is not part of
    it, and in ``"the password you asked for<br>S3cret!x"`` the value is a word of its
    own. The result has the same length, so offsets into it are offsets into ``text``.
    """
    if "\\" in text:
        text = _ESCAPED_BREAK.sub("  ", text)
    if "<b" in text or "<B" in text:
        text = _HTML_BREAK.sub(lambda match: " " * len(match.group()), text)
    return text

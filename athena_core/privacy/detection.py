"""Detection: every registered detector, under the ``[privacy]`` rules of a scope.

:class:`Detection` is built once per :class:`~athena_core.Athena` instance from the
detectors plugins registered (``athena_register_pii_detectors``; the built-in ones are
registered the same way) and ``[privacy]``. :meth:`Detection.detect` runs the detectors
a scope selects, adds its custom patterns, drops allow-listed values and merges
overlapping spans, so the same text always gives the same spans.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from athena_core.config import PrivacyConfig, PrivacyRules
from athena_core.errors import (
    AthenaError,
    ConfigError,
    InvalidArgumentError,
    PluginContractError,
    UnknownPrivacyTypeError,
)
from athena_core.privacy.detector import Detector, DetectorContext
from athena_core.privacy.spans import Span, merge_spans

if TYPE_CHECKING:
    from athena_core.plugins import PluginHost

__all__ = ["CUSTOM_DETECTOR", "FAMILY", "Detection"]

#: The plugin registry family of detectors.
FAMILY = "pii detector"
#: What spans found by a ``[privacy] patterns`` entry name as their detector.
CUSTOM_DETECTOR = "config"


@attrs.frozen
class _ScopeRules:
    """One scope's rules, compiled."""

    types: frozenset[str]
    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    allow: frozenset[str]
    allow_patterns: tuple[re.Pattern[str], ...]


@attrs.define
class Detection:
    """The detectors of one Athena instance and the ``[privacy]`` rules they run under."""

    #: Registered name -> detector.
    detectors: Mapping[str, Detector]
    #: Registered name -> the plugin that registered it.
    providers: Mapping[str, str]
    config: PrivacyConfig = attrs.field(factory=PrivacyConfig)
    _scopes: dict[str | None, _ScopeRules] = attrs.field(factory=dict, init=False)

    @classmethod
    def from_plugins(cls, host: PluginHost, config: PrivacyConfig) -> Detection:
        """Make every registered detector and check ``config`` against their types
        (raises :class:`~athena_core.errors.UnknownPrivacyTypeError`, a ``ConfigError``,
        for a type no detector or pattern has)."""
        registry = host.registry(FAMILY)
        detectors: dict[str, Detector] = {}
        for name in registry:
            detector = host.create(FAMILY, name, DetectorContext(name))
            if not isinstance(detector, Detector) or isinstance(detector.types, str) \
                    or not all(isinstance(t, str) and t for t in detector.types):
                raise PluginContractError(
                    f"PII detector {name!r} of plugin {registry.provider(name)!r} is not a "
                    "detector: it needs `types` (a sequence of type names) and "
                    "`detect(text)` returning spans.", hint="See docs/privacy.md, Plugins.")
            detectors[name] = detector
        detection = cls(detectors, {name: registry.provider(name) for name in detectors}, config)
        detection.check()
        return detection

    def types(self) -> list[str]:
        """Every type a registered detector or a ``[privacy] patterns`` entry reports."""
        return sorted({t for d in self.detectors.values() for t in d.types}
                      | set(self.config.patterns))

    def check(self) -> None:
        """Compile the rules of every configured scope, so a mistake fails at open."""
        for scope in (None, *self.config.scopes):
            self._rules(scope)

    def detect(self, text: str, *, types: Sequence[str] | None = None,
               scope: str | None = None) -> list[Span]:
        """The sensitive values in ``text``, as disjoint spans in text order.

        Runs the detectors and custom patterns ``scope``'s rules select (all without
        ``[privacy]`` rules), narrowed to ``types`` if given (type or detector names),
        drops allow-listed values and merges overlapping spans
        (:func:`~athena_core.privacy.spans.merge_spans`).
        """
        rules = self._rules(scope)
        wanted = rules.types
        if types is not None:
            wanted = wanted & self._expand(types, self._valid(rules), where="types")
        found: list[Span] = []
        for name, detector in self.detectors.items():
            if wanted.isdisjoint(detector.types):
                continue
            for span in self._run(name, detector, text):
                if span.type in wanted:
                    found.append(span)
        for type_, pattern in rules.patterns:
            if type_ in wanted:
                found += (Span(type_, m.start(), m.end(), CUSTOM_DETECTOR)
                          for m in pattern.finditer(text) if m.end() > m.start())
        if rules.allow or rules.allow_patterns:
            found = [span for span in found if not _allowed(text[span.start:span.end], rules)]
        return merge_spans(found)

    # --- helpers -----------------------------------------------------------------------

    def _run(self, name: str, detector: Detector, text: str) -> Iterable[Span]:
        plugin = self.providers[name]
        try:
            spans = list(detector.detect(text))
        except AthenaError:
            raise
        except Exception as exc:
            raise PluginContractError(
                f"PII detector {name!r} of plugin {plugin!r} failed: {type(exc).__name__}.",
                hint=f"Fix or block the plugin (ATHENA_PLUGINS_BLOCK={plugin}).") from exc
        for span in spans:
            if not isinstance(span, Span) or span.end > len(text) \
                    or span.type not in detector.types:
                raise PluginContractError(
                    f"PII detector {name!r} of plugin {plugin!r} returned a span that is not "
                    "a Span of one of its types within the text.",
                    hint=f"Fix or block the plugin (ATHENA_PLUGINS_BLOCK={plugin}).")
            yield span if span.detector == name else attrs.evolve(span, detector=name)

    def _rules(self, scope: str | None) -> _ScopeRules:
        key = scope if scope in self.config.scopes else None
        if key not in self._scopes:
            self._scopes[key] = self._compile(self.config.rules_for(key), key)
        return self._scopes[key]

    def _compile(self, rules: PrivacyRules, scope: str | None) -> _ScopeRules:
        where = f'[privacy.scopes."{scope}"] types' if scope is not None else "[privacy] types"
        builtin = {t for d in self.detectors.values() for t in d.types}
        clash = sorted(builtin & set(rules.patterns))
        if clash:
            raise ConfigError(
                f"[privacy] pattern {clash[0]!r} has the name of a detector's type; give it "
                "a name of its own.")
        valid = builtin | set(rules.patterns)
        types = self._expand(rules.types, self._names(valid), where=where) if rules.types \
            else frozenset(valid)
        return _ScopeRules(
            types=types,
            patterns=tuple((name, re.compile(pattern)) for name, pattern in rules.patterns.items()),
            allow=frozenset(rules.allow),
            allow_patterns=tuple(re.compile(pattern) for pattern in rules.allow_patterns))

    def _valid(self, rules: _ScopeRules) -> Mapping[str, frozenset[str]]:
        """The names ``detect(types=...)`` accepts in a scope: every detector's types and
        name, and the scope's patterns (whether its rules select them or not)."""
        return self._names({t for d in self.detectors.values() for t in d.types}
                           | {name for name, _ in rules.patterns})

    def _names(self, types: set[str]) -> Mapping[str, frozenset[str]]:
        """Name -> the types it selects: each type itself, and each detector's name."""
        names = {t: frozenset({t}) for t in types}
        for name, detector in self.detectors.items():
            names.setdefault(name, frozenset(detector.types) & types)
        return names

    @staticmethod
    def _expand(selected: Sequence[str], names: Mapping[str, frozenset[str]], *,
                where: str) -> frozenset[str]:
        if isinstance(selected, str):
            raise InvalidArgumentError(f"{where} must be a list of names, not a string.")
        out: set[str] = set()
        for name in selected:
            if name not in names:
                if where == "types":
                    raise InvalidArgumentError(
                        f"Unknown privacy type {name!r}. Available: "
                        f"{', '.join(sorted(names))}.", argument="types")
                raise UnknownPrivacyTypeError(where, name, sorted(names))
            out |= names[name]
        return frozenset(out)


def _allowed(value: str, rules: _ScopeRules) -> bool:
    return value in rules.allow or any(p.fullmatch(value) for p in rules.allow_patterns)

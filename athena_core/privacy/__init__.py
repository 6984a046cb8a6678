"""Privacy: detectors of sensitive values (placeholders and encryption come later).

What a plugin needs to add a detector: :class:`Detector` (the protocol), the
:class:`DetectorContext` its factory gets and the :class:`Span` values it returns;
:class:`RuleDetector` and :class:`Rule` build one from regular expressions. See
``docs/privacy.md``.
"""

from athena_core.privacy.detector import Detector, DetectorContext, Rule, RuleDetector
from athena_core.privacy.spans import Span, merge_spans

__all__ = ["Detector", "DetectorContext", "Rule", "RuleDetector", "Span", "merge_spans"]

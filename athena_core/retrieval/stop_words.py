"""English words too common to say what a text is about: full-text queries leave them out.

Asking "what did Melanie do with her kids?" should match memories about
Melanie and kids, not every memory with "what", "did" and "her" in it. The
list is the usual short one (articles, pronouns, auxiliaries, prepositions,
question words); content words such as "not" or "first" stay.
"""

__all__ = ["STOP_WORDS"]

_WORDS = """
a about above after again against all am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers herself him himself his how i if in
into is it its itself just me more most my myself of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself
yourselves s t d ll m re ve
"""
STOP_WORDS = frozenset(_WORDS.split())

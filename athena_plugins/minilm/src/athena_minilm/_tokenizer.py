"""BERT's uncased WordPiece tokenizer, in plain Python.

It reproduces the ``tokenizer.json`` that ships with all-MiniLM-L6-v2 (a
``BertNormalizer`` with lowercasing and accent stripping, a ``BertPreTokenizer``
and ``WordPiece`` with ``[UNK]`` for unknown words), so no tokenizer library is
needed. all-mpnet-base-v2's is the same but for the names of its special tokens
(``<s>``, ``</s>``, ``<pad>``), which the constructor takes. Only the first
``max_pieces`` word pieces of a text are ever produced, and the work done for a
long text is proportional to the part that is kept.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["WordPieceTokenizer"]

#: Words longer than this (in characters) become a single ``[UNK]``, as in BERT.
_MAX_WORD_CHARS = 100
#: ASCII control characters other than tab, newline and carriage return are dropped.
_ASCII_CONTROLS = {cp: None for cp in [*range(0, 9), 11, 12, *range(14, 32), 127]}
#: After lowercasing, an ASCII word is a run of letters and digits; any other
#: printable character is punctuation and stands alone.
_ASCII_PIECE = re.compile(r"[a-z0-9]+|[^a-z0-9 \t\n\r]")
#: Control, format, private-use and surrogate characters are dropped (unassigned ones stay).
_REMOVED = frozenset({"Cc", "Cf", "Co", "Cs"})
#: Code points BERT treats as CJK ideographs: each one becomes its own word.
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


class WordPieceTokenizer:
    """Text to word-piece ids (without ``[CLS]``/``[SEP]``), thread-safe."""

    def __init__(self, vocab: Mapping[str, int], *, unknown: str = "[UNK]",
                 cls: str = "[CLS]", sep: str = "[SEP]", pad: str = "[PAD]") -> None:
        self._vocab = dict(vocab)
        self.unknown_id = self._vocab[unknown]
        self.cls_id = self._vocab[cls]
        self.sep_id = self._vocab[sep]
        self.pad_id = self._vocab[pad]
        # Per instance (not a module-level cache): words repeat a lot across texts.
        self.word_ids = functools.lru_cache(maxsize=65_536)(self._word_ids)

    @classmethod
    def from_vocab_file(cls, path: Path, special_tokens: Mapping[str, str] | None = None
                        ) -> WordPieceTokenizer:
        """One token per line; the line number is the id (BERT's ``vocab.txt``).
        ``special_tokens``: the constructor's arguments naming ``[UNK]`` and the others,
        if the model's differ."""
        with path.open(encoding="utf-8") as lines:
            vocab = {line.rstrip("\n"): index for index, line in enumerate(lines)}
        return cls(vocab, **(special_tokens or {}))

    def encode(self, text: str, max_pieces: int) -> tuple[list[int], bool]:
        """The first ``max_pieces`` piece ids of ``text``, and whether any were cut off."""
        ids: list[int] = []
        for word in _words(text, max_pieces):
            pieces = self.word_ids(word)
            if len(ids) + len(pieces) > max_pieces:
                ids.extend(pieces[:max_pieces - len(ids)])
                return ids, True
            ids.extend(pieces)
        return ids, False

    def _word_ids(self, word: str) -> tuple[int, ...]:
        """Greedy longest-match-first WordPiece; a word with an unknown part is ``[UNK]``."""
        if len(word) > _MAX_WORD_CHARS:
            return (self.unknown_id,)
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self._vocab.get(piece)
                if found is not None:
                    ids.append(found)
                    break
                end -= 1
            else:
                return (self.unknown_id,)
            start = end
        return tuple(ids)


def _words(text: str, max_pieces: int) -> Iterator[str]:
    """Pre-tokenized words of ``text``, reading no more of it than ``max_pieces`` need.

    A prefix of the text is split; every word but its last is complete (the cut
    can only fall inside the last one), so they are final. The prefix doubles
    until the words cover ``max_pieces`` (each word gives at least one piece) or
    the whole text is read.
    """
    done = 0  # words already yielded
    size = max(1024, 8 * max_pieces)
    while True:
        whole = size >= len(text)
        words = _split(text if whole else text[:size])
        if not whole:
            words = words[:-1]
        yield from words[done:]
        if whole:
            return
        done = max(done, len(words))
        if done > max_pieces:
            return
        size *= 2


def _split(text: str) -> list[str]:
    if text.isascii():
        return _ASCII_PIECE.findall(text.translate(_ASCII_CONTROLS).lower())
    return [piece for word in _normalize(text).split(" ") if word
            for piece in _isolate_punctuation(word)]


def _normalize(text: str) -> str:
    """``BertNormalizer(clean_text, handle_chinese_chars, strip_accents, lowercase)``."""
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if char in "\t\n\r" or category in ("Zs", "Zl", "Zp"):
            out.append(" ")
        elif category in _REMOVED or char == "\ufffd":
            continue
        elif _is_cjk(ord(char)):
            out.append(f" {char} ")
        else:
            out.append(char)
    decomposed = unicodedata.normalize("NFD", "".join(out))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower()


def _is_cjk(code: int) -> bool:
    return any(low <= code <= high for low, high in _CJK_RANGES)


def _is_punctuation(char: str) -> bool:
    if char.isascii():
        return not char.isalnum() and char != " "
    return unicodedata.category(char)[0] == "P"


def _isolate_punctuation(word: str) -> Iterator[str]:
    start = 0
    for index, char in enumerate(word):
        if _is_punctuation(char):
            if index > start:
                yield word[start:index]
            yield char
            start = index + 1
    if start < len(word):
        yield word[start:]

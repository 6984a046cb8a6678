"""The vault: each sensitive value of a scope stored once, encrypted, behind a placeholder.

:meth:`Vault.conceal` finds the sensitive values of a text (the detectors of
:mod:`athena_core.privacy.detection`) and returns the text with each replaced by its
placeholder (:mod:`athena_core.privacy.placeholders`) plus the values to keep;
:meth:`Vault.keep` writes those in the caller's transaction - the one that stores the
text - as AES-256-GCM ciphertext under the current data key, with associated data
binding the table, the row (scope and keyed hash), the column and the key version.
:meth:`Vault.reveal` and :meth:`Vault.resolve` turn placeholders back into values:
only what this scope was handed, byte for byte, every decryption authenticated.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import Table, bindparam, delete, or_, select
from sqlalchemy.orm import Session

from athena_core._time import utcnow
from athena_core.errors import PlaceholderError, ProtectedValueError
from athena_core.privacy import placeholders
from athena_core.privacy.keys import open_sealed, seal
from athena_core.storage.models import SensitiveValueRow

if TYPE_CHECKING:
    from athena_core.privacy.detection import Detection
    from athena_core.privacy.keys import Keys
    from athena_core.storage import Storage

__all__ = ["Concealed", "ConcealedText", "Kept", "Vault"]

_TABLE: Table = SensitiveValueRow.__table__  # type: ignore[assignment]
#: Of a scope, the values kept under these digests, or holding these placeholders.
_KNOWN = select(_TABLE.c.digest, _TABLE.c.token).where(
    _TABLE.c.scope == bindparam("scope"),
    or_(_TABLE.c.digest.in_(bindparam("digests", expanding=True)),
        _TABLE.c.token.in_(bindparam("tokens", expanding=True))))
_CACHE_LIMIT = 50_000
_QUERY_BATCH = 500


@attrs.frozen
class Kept:
    """A sensitive value found in a text, to keep in the vault."""

    digest: str
    token: str
    type: str
    value: str


@attrs.frozen
class Concealed:
    """A text with its sensitive values replaced by placeholders, and those values."""

    text: str
    #: The values the text's placeholders stand for (new or already kept), by digest.
    values: Mapping[str, Kept] = attrs.field(factory=dict)


def _associated(scope: str, digest: str, version: int) -> bytes:
    return json.dumps(["sensitive_values", scope, digest, "value", version]).encode()


class Vault:
    """The sensitive values of one store."""

    def __init__(self, storage: Storage, keys: Keys, detection: Detection) -> None:
        self.storage = storage
        self.keys = keys
        self.detection = detection
        self._tokens: dict[tuple[str, str], str] = {}  # (scope, digest) -> placeholder
        self._lock = threading.Lock()

    # --- concealing ------------------------------------------------------------------

    def conceal(self, text: str, *, scope: str, session: Session | None = None
                ) -> Concealed:
        """``text`` with every sensitive value the scope's rules detect replaced by its
        placeholder. Reads the vault, never writes it: store the values with :meth:`keep`
        in the transaction that stores the text. Placeholders already in ``text`` stay.
        ``session``: the write transaction the caller is in, if any."""
        found = self._values(text, scope)
        if not found:
            return Concealed(text)
        key = self.keys.placeholder_key(scope, session)
        kinds = {value: found_type for value, found_type in found.values()}
        macs = {value: hmac.new(key, value.encode("utf-8"), hashlib.sha256) for value in kinds}
        tokens = self._tokens_for(scope, {value: (macs[value], kinds[value])
                                          for value in kinds})
        pieces, at = [], 0
        kept: dict[str, Kept] = {}
        for (start, end), (value, found_type) in sorted(found.items()):
            digest = macs[value].hexdigest()
            token = tokens[value]
            kept.setdefault(digest, Kept(digest, token, found_type, value))
            pieces += [text[at:start], token]
            at = end
        pieces.append(text[at:])
        return Concealed("".join(pieces), kept)

    def conceal_record(self, text: str, *, scope: str, session: Session) -> str:
        """``text`` for the audit log: each sensitive value the scope keeps as its
        placeholder, any other as a :func:`~athena_core.privacy.placeholders.redaction`
        that stands for nothing. Writes nothing: a record never keeps a value, so one a
        forget erased (a forget's own ``subject`` included) stays erased."""
        concealed = self.conceal(text, scope=scope, session=session)
        if not concealed.values:
            return concealed.text
        stored = set(session.scalars(select(SensitiveValueRow.digest).where(
            SensitiveValueRow.scope == scope,
            SensitiveValueRow.digest.in_(list(concealed.values)))))
        out = concealed.text
        for digest, item in concealed.values.items():
            if digest not in stored:
                out = out.replace(item.token, placeholders.redaction(item.type))
        return out

    def conceal_query(self, text: str, *, scope: str) -> str:
        """``text`` as a search for it must look: its sensitive values as their
        placeholders. Writes nothing (a value never kept matches nothing anyway)."""
        return self.conceal(text, scope=scope).text

    def keep(self, session: Session, scope: str, values: Iterable[Kept]) -> None:
        """Store ``values`` of ``scope`` (those not stored yet) in ``session``'s
        transaction, encrypted under the current data key."""
        self.insert_sealed(session, self.sealed(scope, values, session))

    def sealed(self, scope: str, values: Iterable[Kept], session: Session | None = None
               ) -> list[dict[str, Any]]:
        """``values`` of ``scope`` as vault rows, encrypted under the current data key:
        what an import keeps between its passes instead of the values."""
        values = list(values)
        if not values:
            return []
        version, key = self.keys.current(session)
        now = utcnow()
        return [{"scope": scope, "digest": kept.digest, "token": kept.token,
                 "type": kept.type, "key_version": version, "created_at": now,
                 "ciphertext": seal(key, kept.value.encode("utf-8"),
                                    _associated(scope, kept.digest, version))}
                for kept in values]

    def insert_sealed(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert vault ``rows`` (from :meth:`sealed`) not stored yet, in ``session``."""
        if not rows:
            return
        session.connection().execute(_insert_missing(session), [dict(row) for row in rows])
        with self._lock:
            if len(self._tokens) > _CACHE_LIMIT:
                self._tokens.clear()
            for row in rows:
                self._tokens[(row["scope"], row["digest"])] = row["token"]

    def conceal_data(self, value: Any, *, scope: str, session: Session | None = None
                     ) -> tuple[Any, dict[str, Kept]]:
        """``value`` (JSON data: strings, lists, dicts, numbers) with the sensitive values
        in its strings replaced by placeholders, and those values by digest (to
        :meth:`keep`). Dict keys stay as they are. Writes nothing.

        Its strings are scanned as one text, joined by a separator no value spans (one
        detection and one lookup instead of one per string; an operation's result has
        many short strings); if a value spans it, or a string holds it, each string is
        scanned alone."""
        strings: list[str] = []
        _strings_of(value, strings)
        if not strings:
            return value, {}
        if len(strings) == 1 or any(_JOIN in item for item in strings):
            parts, found = self._each(strings, scope, session)
        else:
            joined = self.conceal(_JOIN.join(strings), scope=scope, session=session)
            parts, found = joined.text.split(_JOIN), dict(joined.values)
            if len(parts) != len(strings):  # a value spanned two strings
                parts, found = self._each(strings, scope, session)
        if parts == strings:
            return value, found
        return _with_strings(value, iter(parts)), found

    def _each(self, strings: Sequence[str], scope: str, session: Session | None
              ) -> tuple[list[str], dict[str, Kept]]:
        found: dict[str, Kept] = {}
        parts = []
        for item in strings:
            concealed = self.conceal(item, scope=scope, session=session)
            found.update(concealed.values)
            parts.append(concealed.text)
        return parts, found

    def conceal_value(self, value: Any, *, scope: str) -> Any:
        """:meth:`conceal_data`, with new values kept in a transaction of their own: the
        model-bound path's form of :meth:`conceal`."""
        result, found = self.conceal_data(value, scope=scope)
        if found:
            with self.storage.write() as session:
                self.keep(session, scope, found.values())
        return result

    # --- revealing -------------------------------------------------------------------

    def reveal(self, text: str, *, scope: str) -> tuple[str, list[Kept]]:
        """``text`` with each placeholder replaced by its value, and the values revealed.
        Raises :class:`PlaceholderError` for a placeholder this scope was never handed,
        or one cut off or nested."""
        _check_fragments(text)
        tokens = list(dict.fromkeys(placeholders.placeholders_in(text)))
        if not tokens:
            return text, []
        values = self._values_of(scope, tokens)
        revealed = placeholders.PLACEHOLDER.sub(lambda m: values[m.group(0)].value, text)
        return revealed, [values[token] for token in tokens]

    def resolve(self, value: Any, *, scope: str) -> tuple[Any, list[Kept]]:
        """``value`` (arguments: strings, lists, dicts) with every placeholder in its
        strings replaced by the real value, and the values revealed (tuples become
        lists)."""
        strings: list[str] = []
        _strings_of(value, strings)
        revealed: dict[str, Kept] = {}
        texts = []
        for text in strings:
            shown, kept = self.reveal(text, scope=scope)
            revealed.update((k.digest, k) for k in kept)
            texts.append(shown)
        return _with_strings(value, iter(texts)), list(revealed.values())

    # --- erasing ---------------------------------------------------------------------

    def erase(self, session: Session, scope: str, digests: Sequence[str]) -> int:
        """Delete the values with ``digests`` of ``scope`` in ``session``'s transaction."""
        removed = 0
        for start in range(0, len(digests), _QUERY_BATCH):
            batch = list(digests[start:start + _QUERY_BATCH])
            result = session.execute(delete(SensitiveValueRow).where(
                SensitiveValueRow.scope == scope, SensitiveValueRow.digest.in_(batch)))
            removed += getattr(result, "rowcount", 0) or 0
        with self._lock:
            self._tokens.clear()
        return removed

    def erase_scope(self, session: Session, scope: str) -> int:
        """Delete every value of ``scope`` in ``session``'s transaction (a forget of the
        whole scope)."""
        result = session.execute(delete(SensitiveValueRow).where(
            SensitiveValueRow.scope == scope))
        with self._lock:
            self._tokens.clear()
        return getattr(result, "rowcount", 0) or 0

    def token_of(self, digest: str, *, scope: str) -> str | None:
        """The placeholder the value with keyed hash ``digest`` has in ``scope``, if kept."""
        with self.storage.read() as session:
            return session.scalar(select(SensitiveValueRow.token).where(
                SensitiveValueRow.scope == scope, SensitiveValueRow.digest == digest))

    def digest(self, value: str, *, scope: str) -> str:
        """The keyed hash ``value`` is kept under in ``scope`` (no lookup)."""
        return hmac.new(self.keys.placeholder_key(scope), value.encode("utf-8"),
                        hashlib.sha256).hexdigest()

    # --- internals -------------------------------------------------------------------

    def _values(self, text: str, scope: str) -> dict[tuple[int, int], tuple[str, str]]:
        """The sensitive values of ``text`` not inside a placeholder: (start, end) ->
        (value, type)."""
        taken = [match.span() for match in placeholders.PLACEHOLDER.finditer(text)]
        found = {}
        for span in self.detection.detect(text, scope=scope):
            if any(span.start < end and start < span.end for start, end in taken):
                continue
            found[(span.start, span.end)] = (text[span.start:span.end], span.type)
        return found

    def _tokens_for(self, scope: str, wanted: Mapping[str, tuple[Any, str]]
                    ) -> dict[str, str]:
        """The placeholder of each value in ``wanted`` (value -> (hmac, type)): the one
        it was kept under, else the shortest free one. One query, for what the cache does
        not know."""
        tokens: dict[str, str] = {}
        unknown: dict[str, tuple[bytes, str, str]] = {}
        for value, (mac, found_type) in wanted.items():
            digest = mac.hexdigest()
            cached = self._tokens.get((scope, digest))
            if cached is not None:
                tokens[value] = cached
            else:
                unknown[digest] = (mac.digest(), found_type, value)
        if not unknown:
            return tokens
        def options(digest: str) -> list[str]:
            raw, found_type, _ = unknown[digest]
            return [placeholders.placeholder(found_type, suffix)
                    for suffix in placeholders.suffixes(raw)]

        first = {digest: placeholders.placeholder(found_type, next(placeholders.suffixes(raw)))
                 for digest, (raw, found_type, _) in unknown.items()}
        shortest = list(first.values())
        with self.storage.snapshot() as connection:
            stored = connection.execute(_KNOWN, {"scope": scope, "digests": list(unknown),
                                                 "tokens": shortest}).all()
        taken: dict[str, str] = {token: digest for digest, token in stored}
        for digest, token in stored:
            if digest in unknown:
                tokens[unknown.pop(digest)[2]] = token
        for digest in sorted(unknown):
            choice = first[digest]
            if choice in taken:  # rare: another value has the short one
                choice = self._free_token(scope, options(digest), taken)
            taken[choice] = digest
            tokens[unknown[digest][2]] = choice
        return tokens

    def _free_token(self, scope: str, options: Sequence[str], taken: Mapping[str, str]
                    ) -> str:
        """The shortest of ``options`` that no value of ``scope`` (stored, or in
        ``taken``) has."""
        with self.storage.read() as session:
            stored = set(session.scalars(select(SensitiveValueRow.token).where(
                SensitiveValueRow.scope == scope, SensitiveValueRow.token.in_(options))))
        return next(token for token in options if token not in stored and token not in taken)

    def _values_of(self, scope: str, tokens: Sequence[str]) -> dict[str, Kept]:
        found: dict[str, Kept] = {}
        with self.storage.read() as session:
            for start in range(0, len(tokens), _QUERY_BATCH):
                batch = list(tokens[start:start + _QUERY_BATCH])
                for row in session.scalars(select(SensitiveValueRow).where(
                        SensitiveValueRow.scope == scope, SensitiveValueRow.token.in_(batch))):
                    found[row.token] = self._decrypted(row)
        missing = [token for token in tokens if token not in found]
        if missing:
            raise PlaceholderError(
                f"Placeholder {missing[0]} was never handed out in this scope"
                + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else "") + ".",
                hint="Use a placeholder exactly as a result gave it to you; placeholders "
                     "of other scopes do not resolve here.")
        return found

    def _decrypted(self, row: SensitiveValueRow) -> Kept:
        key = self.keys.data_key(row.key_version)
        plain = open_sealed(key, row.ciphertext,
                            _associated(row.scope, row.digest, row.key_version),
                            what=f"Sensitive value {row.token} of scope {row.scope!r}")
        return Kept(row.digest, row.token, row.type, plain.decode("utf-8"))

    def check_sealed(self, row: Mapping[str, Any]) -> None:
        """Raise unless vault ``row`` (an imported one) decrypts under this store's keys and
        holds the value its keyed hash names in its scope."""
        value = open_sealed(self.keys.data_key(row["key_version"]), row["ciphertext"],
                            _associated(row["scope"], row["digest"], row["key_version"]),
                            what=f"Sensitive value {row['token']}")
        if not hmac.compare_digest(self.digest(value.decode("utf-8"), scope=row["scope"]),
                                   row["digest"]):
            raise ProtectedValueError(
                f"Sensitive value {row['token']} is not the value its keyed hash names.")

    def rewrap(self, session: Session, row: SensitiveValueRow, version: int) -> None:
        """Re-encrypt ``row`` under data key ``version`` (key rotation), in ``session``."""
        kept = self._decrypted(row)
        row.ciphertext = seal(self.keys.data_key(version), kept.value.encode("utf-8"),
                              _associated(row.scope, row.digest, version))
        row.key_version = version


#: Between the strings of one value scanned together: a record separator on a line of its
#: own, which no detector's value contains.
_JOIN = "\n\x1e\n"


def _strings_of(value: Any, out: list[str]) -> None:
    """Append the strings of JSON data ``value`` to ``out``, in a fixed order."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, Mapping):
        for inner in value.values():
            _strings_of(inner, out)
    elif isinstance(value, list | tuple):
        for inner in value:
            _strings_of(inner, out)


def _with_strings(value: Any, parts: Iterator[str]) -> Any:
    """``value`` with its strings replaced, in :func:`_strings_of`'s order, by ``parts``
    (lists and tuples become lists)."""
    if isinstance(value, str):
        return next(parts)
    if isinstance(value, Mapping):
        return {name: _with_strings(inner, parts) for name, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_with_strings(inner, parts) for inner in value]
    return value


def _check_fragments(text: str) -> None:
    whole = [match.span() for match in placeholders.PLACEHOLDER.finditer(text)]
    for match in placeholders.FRAGMENT.finditer(text):
        if not any(start == match.start() for start, _ in whole):
            raise PlaceholderError(
                f"A placeholder at character {match.start()} is cut off or nested: only "
                "whole placeholders, as a result gave them, are resolved.",
                hint="Pass each placeholder whole, e.g. [EMAIL_k3x7q2mz].")


def _insert_missing(session: Session) -> Any:
    """``INSERT ... ON CONFLICT (scope, digest) DO NOTHING`` for this session's database."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(_TABLE).on_conflict_do_nothing(index_elements=["scope", "digest"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(_TABLE).on_conflict_do_nothing(index_elements=["scope", "digest"])



class ConcealedText(str):
    """A text in its placeholder form that still carries the values its placeholders
    stand for (:attr:`kept`), so the transaction that stores it keeps them too
    (:meth:`athena_core.memory.store.Transaction.insert`)."""

    kept: tuple[Kept, ...]

    def __new__(cls, text: str, kept: Iterable[Kept] = ()) -> ConcealedText:
        made = super().__new__(cls, text)
        made.kept = tuple(kept)
        return made

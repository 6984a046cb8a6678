"""``athena.privacy``: what the privacy pipeline detects and reveals, as operations.

:class:`Privacy` is the owner object of the API registry's ``privacy`` namespace, so
host applications, sandboxed programs, classic MCP and discovery all offer
``privacy.scan`` and ``privacy.reveal`` from this one declaration. It is also where
the model-bound path conceals (:meth:`Privacy.conceal_output`) and where placeholders
in arguments are resolved for operations declared to receive real values
(:meth:`Privacy.resolve_arguments`), each resolution on the audit log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from athena_core import calls
from athena_core.api import operation
from athena_core.errors import InvalidArgumentError, SensitiveValueError
from athena_core.privacy.detection import Detection

if TYPE_CHECKING:
    from athena_core.audit import AuditLog
    from athena_core.privacy.keys import Keys
    from athena_core.privacy.rotation import RotationReport
    from athena_core.privacy.vault import Kept, Vault

__all__ = ["Privacy"]


class Privacy:
    """The ``privacy`` operations of one :class:`~athena_core.Athena` instance."""

    api_namespace = "privacy"

    def __init__(self, detection: Detection, *, max_text_bytes: int,
                 default_scope: str = "default") -> None:
        self.detection = detection
        #: The longest text a scan takes, in bytes of UTF-8 (``[memory] max_text_bytes``,
        #: as for the texts it is meant to check before they are stored).
        self.max_text_bytes = max_text_bytes
        self.default_scope = default_scope
        #: The vault (``None`` when ``[privacy] conceal`` is off); set when storage opens.
        self.vault: Vault | None = None
        self.audit: AuditLog | None = None

    def attach(self, vault: Vault | None, audit: AuditLog) -> None:
        """Use ``vault`` and ``audit`` (the instance's, once its storage is open)."""
        self.vault = vault
        self.audit = audit

    @property
    def keys(self) -> Keys | None:
        """The key hierarchy (``None`` when ``[privacy] conceal`` is off)."""
        return None if self.vault is None else self.vault.keys

    @operation()
    def scan(self, text: str, *, types: Sequence[str] | None = None,
             scope: str | None = None) -> list[dict[str, Any]]:
        """The sensitive values in ``text``: one entry per value, in text order, with its
        ``type`` (``email``, ``payment_card``, ``github_token``, ...), ``start`` and
        ``end`` (character offsets: the value is ``text[start:end]``), the ``detector``
        that found it and its ``confidence`` (0 to 1).

        Entries hold offsets, never the values. ``types`` narrows the scan to these
        types or detector names; the scope's ``[privacy]`` rules (types, patterns,
        allow-lists) apply. The scan itself stores nothing and adds no audit record.
        ``text`` may be as long as a memory (``[memory] max_text_bytes``).
        """
        self._check_size(text)
        return [span.to_dict() for span in self.detection.detect(text, types=types,
                                                                 scope=scope)]

    @operation(permissions="reveal")
    def reveal(self, text: str, *, scope: str | None = None) -> str:
        """``text`` with each placeholder (``[EMAIL_k3x7q2mz]``) replaced by the real value
        it stands for in this scope. Needs the ``reveal`` permission, which no preset
        policy grants; every call is on the audit log. A placeholder this scope was never
        handed, or one cut off or nested, raises ``PlaceholderError``.
        """
        self._check_size(text)
        scope = scope or self.default_scope
        if self.vault is None:
            return text
        revealed, kept = self.vault.reveal(text, scope=scope)
        self._record(scope, "privacy.reveal", kept)
        return revealed

    # --- the model-bound path (host side, not operations) ------------------------------

    def conceal_output(self, value: Any, *, scope: str | None) -> Any:
        """``value`` (JSON data) as it may go toward a model: every sensitive value in its
        strings replaced by the scope's placeholder (new values kept, encrypted)."""
        if self.vault is None:
            return value
        return self.vault.conceal_value(value, scope=scope or self.default_scope)

    def resolve_arguments(self, operation_name: str, args: tuple[Any, ...],
                          kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``args`` and ``kwargs`` of a call of ``operation_name`` (declared
        ``real_values=True``) with each placeholder resolved to its value in the call's
        scope; one audit record if any was."""
        context = calls.current()
        asked = kwargs.get("scope")
        scope = (context.resolve(asked) if context is not None else asked) \
            or self.default_scope
        args, kwargs = self.resolve_value(operation_name, (args, kwargs), scope=scope)
        return tuple(args), dict(kwargs)

    def resolve_value(self, receiver: str, value: Any, *, scope: str) -> Any:
        """``value`` (JSON data) with each placeholder in its strings resolved to the real
        value it stands for in ``scope`` (tuples become lists), for ``receiver`` (an
        operation, or a procedure's inputs); one ``detokenisation`` audit record if any
        was, and none handed out if that record cannot be written."""
        if self.vault is None:
            return value
        resolved, kept = self.vault.resolve(value, scope=scope)
        if kept:
            self._record(scope, receiver, kept)
        return resolved

    def refuse_sensitive(self, owner: str, files: Mapping[str, str]) -> None:
        """Raise :class:`SensitiveValueError` if a text of ``files`` (name -> text) holds
        a sensitive value: for what is kept where no placeholder can stand in for it
        (``owner``: the procedure whose files they are). Placeholders pass."""
        if self.vault is None:
            return
        for name, text in files.items():
            spans = self.detection.detect(text)
            if spans:
                line = text.count("\n", 0, spans[0].start) + 1
                raise SensitiveValueError(
                    f"{name} of procedure {owner!r} holds a sensitive value "
                    f"({spans[0].type}, line {line}); procedures are kept in git and "
                    "shared by every scope, so they may not hold one. Nothing was saved.",
                    hint="Take the value as an input (listed in real_values if the code "
                         "needs it in clear), or pass its placeholder.")

    def subject_forms(self, subject: str | None, *, scope: str
                      ) -> tuple[tuple[str, ...] | None, str | None]:
        """For ``forget(subject=...)``: the forms ``subject`` takes in stored text (the
        value, and its placeholder if the scope's vault holds it) and its keyed hash
        (``None`` without a vault). A subject shorter than 5 characters would match too
        much and is refused."""
        if subject is None:
            return None, None
        value = subject.strip()
        if len(value) < 5:
            raise InvalidArgumentError(
                "forget(subject=...) needs a value of at least 5 characters (an e-mail "
                "address, a phone number, a name); a shorter one matches too much.",
                argument="subject")
        if self.vault is None or not self.vault.keys.exist():
            return (value,), None  # no keys yet: no value was ever kept, none is made
        digest = self.vault.digest(value, scope=scope)
        token = self.vault.token_of(digest, scope=scope)
        return ((value,) if token is None else (value, token)), digest

    # --- keys (host side: ``athena keys``) -------------------------------------------

    def key_status(self) -> dict[str, Any]:
        """The key provider, each key version and how many values it encrypts, and a
        rotation under way (no key material)."""
        from athena_core.privacy.rotation import key_status

        return key_status(self._vault())

    def rotate_keys(self, *, progress: Callable[[int, int], None] | None = None
                    ) -> RotationReport:
        """Re-encrypt every value under a new data key version (resuming an interrupted
        rotation); see :mod:`athena_core.privacy.rotation`."""
        from athena_core.privacy.rotation import rotate

        assert self.audit is not None
        return rotate(self._vault(), self.audit, progress=progress)

    def rotate_master_key(self) -> str | None:
        """Replace the master key: every key of the table re-wrapped under a new one in
        one transaction with its ``key_operation`` audit record, then the old key dropped
        by the key provider (:meth:`~athena_core.privacy.keys.Keys.rotate_master`).
        Returns what the user must still do, if the provider cannot (``env``)."""
        vault = self._vault()
        assert self.audit is not None
        audit = self.audit
        if not vault.keys.exist():
            raise InvalidArgumentError(
                "This store has no keys yet: it has never held a sensitive value, so there "
                "is no master key to replace.", hint="Nothing to do.")
        return vault.keys.rotate_master(lambda session: audit.append(
            "key_operation", scope="*", status="ok",
            details={"operation": "rotate_master",
                     "provider": vault.keys.provider.describe()}, session=session))

    def retire_key(self, version: int) -> None:
        """Erase data key ``version`` once no value is encrypted under it."""
        from athena_core.privacy.rotation import retire

        assert self.audit is not None
        retire(self._vault(), self.audit, version)

    def _vault(self) -> Vault:
        if self.vault is None:
            raise InvalidArgumentError(
                "Sensitive values are not concealed in this store ([privacy] conceal = "
                "false), so it has no keys.", hint="Set [privacy] conceal = true.")
        return self.vault

    def types(self) -> list[str]:
        """Every type the detectors and ``[privacy] patterns`` report."""
        return self.detection.types()

    def _record(self, scope: str, operation_name: str, kept: Sequence[Kept]) -> None:
        """One ``detokenisation`` record: which operation received how many values of
        which types (their keyed hashes, never the values). If it cannot be written, the
        values are not handed out."""
        assert self.audit is not None
        self.audit.append(
            "detokenisation", scope=scope, status="ok",
            details={"operation": operation_name, "values": len(kept),
                     "types": sorted({item.type for item in kept}),
                     "digests": sorted(item.digest for item in kept)})

    def _check_size(self, text: str) -> None:
        size = len(text.encode("utf-8"))
        if size > self.max_text_bytes:
            raise InvalidArgumentError(
                f"text is {size:,} bytes; the limit is {self.max_text_bytes:,} bytes "
                "([memory] max_text_bytes).", hint="Pass it in parts.", argument="text")

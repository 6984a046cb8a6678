"""The audit log: an append-only, hash-chained record of what ran and who asked.

Executions, MCP tool calls and forgets (later: detokenisations, decryptions, key
operations) are recorded here, not in memory: a program or an MCP client can
neither write, edit nor delete a record, and ``recall`` never returns one. Each
record holds the hash of the one before it, so :meth:`AuditLog.verify` finds an
edited, removed or moved record. Forgetting a memory scrubs the program text and
argument values that quoted it; the record, and the record that a forget
happened, stay. See ``docs/audit.md``.
"""

from athena_core.audit.log import AUDIT_KINDS, AuditLog, AuditRecord, ChainCheck

__all__ = ["AUDIT_KINDS", "AuditLog", "AuditRecord", "ChainCheck"]

"""Procedures: procedural memory as executable code, versioned in git.

A procedure is a folder of a git repository - ``manifest.json`` (:class:`Procedure`),
``main.py`` (the code) and ``test_main.py`` (its tests) - whose every save is a commit
(:class:`ProcedureRepository`); database rows index it (:class:`ProcedureCatalog`);
:func:`admit` makes a version ``active`` only once :func:`verify` found it sound;
:func:`export_skill` and :func:`import_skill` convert to and from Agent Skills folders;
:func:`propose` and :func:`learn` draft procedures from repeated successful programs.
See ``docs/procedures.md``. dulwich loads only when a repository is opened.
"""

from athena_core.procedures.catalog import CatalogEntry, ProcedureCatalog
from athena_core.procedures.gate import RunStats, admit, confidence, procedure_policy, verify
from athena_core.procedures.learning import LearnReport, Outcome, Proposal, learn, propose
from athena_core.procedures.model import (
    LANGUAGES,
    MAX_DESCRIPTION_CHARS,
    NO_EXPECTED,
    SOURCES,
    STAGES,
    STATUSES,
    Example,
    HistoryEntry,
    Procedure,
    ProcedureSignature,
    ProcedureVersion,
    Revision,
    Source,
    Status,
    TestOutcome,
    ValidationCheck,
    ValidationReport,
    VersionRecord,
    check_procedure_id,
    schema_from_signature,
)
from athena_core.procedures.repository import Change, ProcedureRepository, RepositoryLog
from athena_core.procedures.skills import ImportedSkill, export_skill, import_skill

__all__ = [
    "LANGUAGES",
    "MAX_DESCRIPTION_CHARS",
    "NO_EXPECTED",
    "SOURCES",
    "STAGES",
    "STATUSES",
    "CatalogEntry",
    "Change",
    "Example",
    "HistoryEntry",
    "ImportedSkill",
    "LearnReport",
    "Outcome",
    "Procedure",
    "ProcedureCatalog",
    "ProcedureRepository",
    "ProcedureSignature",
    "ProcedureVersion",
    "Proposal",
    "RepositoryLog",
    "Revision",
    "RunStats",
    "Source",
    "Status",
    "TestOutcome",
    "ValidationCheck",
    "ValidationReport",
    "VersionRecord",
    "admit",
    "check_procedure_id",
    "confidence",
    "export_skill",
    "import_skill",
    "learn",
    "procedure_policy",
    "propose",
    "schema_from_signature",
    "verify",
]

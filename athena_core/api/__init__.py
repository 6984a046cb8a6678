"""The API registry: agent-callable operations, each declared once."""

from athena_core.api.registry import (
    PERMISSIONS,
    ApiRegistry,
    Namespace,
    Operation,
    OperationSpec,
    operation,
)

__all__ = ["PERMISSIONS", "ApiRegistry", "Namespace", "Operation", "OperationSpec", "operation"]

"""Progressive API discovery: the API tree (:mod:`.tree`) and ``search_api`` (:mod:`.search`)."""

from athena_core.discovery.search import DETAILS, ApiIndex, Detail, EmbedFunction, search
from athena_core.discovery.tree import SANDBOX_API_PATH, stub_path, tree_for, write_tree

__all__ = ["DETAILS", "SANDBOX_API_PATH", "ApiIndex", "Detail", "EmbedFunction", "search",
           "stub_path", "tree_for", "write_tree"]

"""The MCP server: ``athena serve`` (tools in :mod:`.tools`, the SDK glue in :mod:`.server`)."""

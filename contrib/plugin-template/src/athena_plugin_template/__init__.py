"""An example Athena plugin: a character-trigram embedder and one API operation."""

from athena_plugin_template.embedder import CharTrigramEmbedder

__all__ = ["CharTrigramEmbedder"]

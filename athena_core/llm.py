"""LLM providers: the optional language model a feature may ask for help.

Plugins register providers with ``athena_register_llm_providers``; ``[procedures]
llm_provider`` selects one by name (empty: none, and no model is used). A provider only
completes prompts (:class:`LlmProvider`); whatever it returns is treated as untrusted
text by the feature that asked (learning puts it through the procedure gate).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from athena_core.errors import PluginContractError

if TYPE_CHECKING:
    from athena_core.config import Config
    from athena_core.plugins import PluginHost

__all__ = ["FAMILY", "LlmProvider", "LlmProviderContext", "selected_llm_provider"]

#: The registry family of LLM providers.
FAMILY = "llm provider"


@runtime_checkable
class LlmProvider(Protocol):
    """What an ``athena_register_llm_providers`` factory returns."""

    def complete(self, prompt: str, *, max_tokens: int) -> str:
        """The model's completion of ``prompt``, at most ``max_tokens`` tokens long.

        Raise an :class:`~athena_core.errors.AthenaError` (or let the client's error
        propagate) when the model cannot be reached; never return a made-up answer.
        """
        ...


@attrs.frozen
class LlmProviderContext:
    """What a provider's factory is called with."""

    #: The name it was selected by.
    name: str
    #: The instance's configuration (its data dir, for a cache or credentials file).
    config: Config


def selected_llm_provider(config: Config, host: PluginHost) -> LlmProvider | None:
    """The provider ``[procedures] llm_provider`` names, made by its factory; ``None`` when
    none is configured. An unknown name raises
    :class:`~athena_core.errors.UnknownNameError` listing the installed providers; a
    factory that returns no ``complete`` method raises
    :class:`~athena_core.errors.PluginContractError`."""
    name = config.procedures.llm_provider
    if not name:
        return None
    provider = host.create(FAMILY, name, LlmProviderContext(name=name, config=config))
    if not isinstance(provider, LlmProvider):
        raise PluginContractError(
            f"LLM provider {name!r} (plugin {host.registry(FAMILY).provider(name)!r}) returned "
            f"{type(provider).__name__}, which has no complete(prompt, *, max_tokens) method.",
            hint="Fix the plugin, or set [procedures] llm_provider to another provider.")
    return provider

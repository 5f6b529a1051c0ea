"""Moved to `cascadeflow_integrations.models.providers`; this old path re-exports it for one release.

Each old submodule (`providers.openai`, `providers.base`, ...) is that very module of the new package.
"""

from __future__ import annotations

from ..models.providers import PROVIDERS, Provider, ProviderFactory, create_provider, register_provider

__all__ = ["PROVIDERS", "Provider", "ProviderFactory", "create_provider", "register_provider"]

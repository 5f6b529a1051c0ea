"""Demo scenarios through the LangChain and LlamaIndex adapters (filled in when the adapters land)."""

from __future__ import annotations

from typing import Any


def framework_scenarios() -> list[Any]:
    return []

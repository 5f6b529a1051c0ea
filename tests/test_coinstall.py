"""The package installs beside the LangChain and LlamaIndex provider packages users already have.

Runs in `make test-compat`, whose environment pins the oldest SDK majors in range (what
llama-index-llms-openai's `openai<3` and langchain-groq's `groq<1` force) next to those packages.
"""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys

import pytest

pytestmark = pytest.mark.compat

NEIGHBOURS = ["langchain-openai", "langchain-anthropic", "langchain-groq", "llama-index-llms-openai"]


def _installed(dist: str) -> bool:
    try:
        md.version(dist)
        return True
    except md.PackageNotFoundError:
        return False


@pytest.mark.skipif(not all(map(_installed, NEIGHBOURS)), reason="neighbour packages are installed by make test-compat")
def test_coinstalls_with_langchain_and_llamaindex_provider_packages():
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    code = ("import cascadeflow_integrations, cascadeflow_integrations.langchain, cascadeflow_integrations.llama_index;"
            "import langchain_openai, langchain_anthropic, langchain_groq, llama_index.llms.openai;"
            "from cascadeflow_integrations.providers import create_provider;"
            "from cascadeflow_integrations import ModelConfig;"
            "[create_provider(ModelConfig(name='m', provider=p, api_key='k')) for p in ('openai','anthropic','groq')]")
    imp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert imp.returncode == 0, imp.stderr


def test_sdk_majors_are_in_range():
    major = {d: int(md.version(d).split(".")[0]) for d in ("openai", "anthropic", "groq")}
    assert 2 <= major["openai"] <= 3 and 0 <= major["anthropic"] <= 2 and 0 <= major["groq"] <= 1

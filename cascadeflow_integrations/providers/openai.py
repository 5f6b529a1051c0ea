"""Moved to `cascadeflow_integrations.models.providers.openai`; this old path is that very module, kept for one release."""

from __future__ import annotations

import sys

from ..models.providers import openai as _moved
from ..models.providers.openai import *  # noqa: F403 - the re-export

sys.modules[__name__] = _moved

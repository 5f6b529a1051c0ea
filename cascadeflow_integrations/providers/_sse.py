"""Moved to `cascadeflow_integrations.models.providers._sse`; this old path is that very module, kept for one release."""

from __future__ import annotations

import sys

from ..models.providers import _sse as _moved
from ..models.providers._sse import *  # noqa: F403 - the re-export

sys.modules[__name__] = _moved

"""Moved to `cascadeflow_integrations.cascade.agent`; this old path is that very module, kept for one release."""

from __future__ import annotations

import sys

from .cascade import agent as _moved
from .cascade.agent import *  # noqa: F403 - the re-export

sys.modules[__name__] = _moved

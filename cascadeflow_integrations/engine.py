"""Moved to `cascadeflow_integrations.cascade.engine`; this old path is that very module, kept for one release."""

from __future__ import annotations

import sys

from .cascade import engine as _moved
from .cascade.engine import *  # noqa: F403 - the re-export

sys.modules[__name__] = _moved

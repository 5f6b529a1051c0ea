"""Moved to `cascadeflow_integrations.cascade.streaming`; this old path is that very module, kept for one release."""

from __future__ import annotations

import sys

from .cascade import streaming as _moved
from .cascade.streaming import *  # noqa: F403 - the re-export

sys.modules[__name__] = _moved

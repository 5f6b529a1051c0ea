"""Moved to `cascadeflow_integrations.cascade.hooks`; this old path is that very module, kept for one release."""

from __future__ import annotations

import sys

from .cascade import hooks as _moved
from .cascade.hooks import *  # noqa: F403 - the re-export

sys.modules[__name__] = _moved

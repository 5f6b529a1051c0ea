"""Moved to `cascadeflow_integrations.cascade.spec`; this old path is that very module, kept for one release."""

from __future__ import annotations

import sys

from .cascade import spec as _moved
from .cascade.spec import *  # noqa: F403 - the re-export

sys.modules[__name__] = _moved

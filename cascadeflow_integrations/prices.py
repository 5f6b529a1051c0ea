"""Moved to `cascadeflow_integrations.models.prices`; this old path is that very module, kept for one release."""

from __future__ import annotations

import sys

from .models import prices as _moved
from .models.prices import *  # noqa: F403 - the re-export

sys.modules[__name__] = _moved

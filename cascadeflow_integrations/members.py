"""Moved to `cascadeflow_integrations.models.members`; this old path is that very module, kept for one release."""

from __future__ import annotations

import sys

from .models import members as _moved
from .models.members import *  # noqa: F403 - the re-export

sys.modules[__name__] = _moved

"""Moved to `cascadeflow_integrations.learning.routellm` (a labelled-data loader belongs with the learning, not
the checks); this old path is that very module, kept for one release."""

from __future__ import annotations

import sys

from ..learning import routellm as _moved
from ..learning.routellm import *  # noqa: F403 - the re-export

sys.modules[__name__] = _moved

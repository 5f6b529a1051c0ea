"""Moved to `cascadeflow_integrations.learning.calibrate` (calibration is learning, beside certify and fit).

This old path is kept for one release: it is that very module (private names and patches included), and
`python -m cascadeflow_integrations.quality.calibrate` still runs its command line.
"""

from __future__ import annotations

import sys

from ..learning import calibrate as _calibrate
from ..learning.calibrate import *  # noqa: F403 - the re-export

if __name__ == "__main__":
    sys.exit(_calibrate.main())
sys.modules[__name__] = _calibrate

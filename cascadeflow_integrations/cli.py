"""The `cascadeflow-integrations` console script: `demo`, `calibrate` and `fit`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write("usage: cascadeflow-integrations {demo,calibrate,fit} [options]\n"
                         "  demo       the offline live demo (--live to call providers)\n"
                         "  calibrate  choose quality thresholds from labelled records (CSV)\n"
                         "  fit        learn a decision policy from a decision log (cascade.db) or records\n")
        return 0 if args else 2
    cmd, rest = args[0], args[1:]
    if cmd == "demo":
        from .demo.run import main as demo_main

        return demo_main(rest)
    if cmd == "calibrate":
        from .learning.calibrate import main as calibrate_main

        return int(calibrate_main(rest) or 0)
    if cmd == "fit":
        from .learning.cli import main as fit_main

        return fit_main(rest)
    sys.stderr.write(f"unknown command {cmd!r}: use demo, calibrate or fit\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())

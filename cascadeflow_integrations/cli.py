"""The `cascadeflow-integrations` console script: `demo` and `calibrate`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write("usage: cascadeflow-integrations {demo,calibrate} [options]\n"
                         "  demo       the offline live demo (--live to call providers)\n"
                         "  calibrate  choose quality thresholds from labelled records (CSV)\n")
        return 0 if args else 2
    cmd, rest = args[0], args[1:]
    if cmd == "demo":
        from .demo.run import main as demo_main

        return demo_main(rest)
    if cmd == "calibrate":
        from .quality.calibrate import main as calibrate_main

        return int(calibrate_main(rest) or 0)
    sys.stderr.write(f"unknown command {cmd!r}: use demo or calibrate\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())

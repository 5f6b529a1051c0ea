"""Write one `## ...` section of bench/README.md in place: other sections and their order are left alone."""

from __future__ import annotations

import os


def replace_section(readme: str, heading: str, body: str) -> None:
    """Replace the section that starts with `heading` (e.g. "## Quality") by `body`, or append it."""
    old = open(readme, encoding="utf-8").read() if os.path.exists(readme) else "# Benchmarks\n"
    start = old.find("\n" + heading)
    if start < 0:
        new = old.rstrip() + "\n\n" + body.rstrip() + "\n"
    else:
        nxt = old.find("\n## ", start + 1)
        new = old[:start].rstrip() + "\n\n" + body.rstrip() + "\n" + (old[nxt:] if nxt >= 0 else "")
    with open(readme, "w", encoding="utf-8") as f:
        f.write(new)

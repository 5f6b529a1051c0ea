"""MkDocs hook: serve the repository files the guides link to (examples, benchmark results, cassette notes).

They stay where the code uses them (bench/ scripts rewrite bench/README.md); adding them to the site here,
under their repository paths, lets `mkdocs build --strict` check every link to them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = ("bench/README.md", "bench/*.png", "cassettes/README.md", "examples/*.py")


def on_files(files: Files, config: Any) -> Files:
    for pattern in PATTERNS:
        for path in sorted(ROOT.glob(pattern)):
            uri = path.relative_to(ROOT).as_posix()
            if files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files

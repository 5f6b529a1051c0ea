"""Final answers: extraction and equivalence. Moved to `quality.answers`; these names stay here too."""

from __future__ import annotations

from . import answers as _answers
from .answers import *  # noqa: F403 - the re-export

#: every name of `quality.answers` but the reader's internals, which were never here
__all__ = [n for n in _answers.__all__ if n not in ("load_math_verify_async", "read", "read_span")]

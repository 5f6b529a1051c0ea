"""The library's logger, set up by the standard library's rule for libraries.

A `NullHandler` is installed at import, so with no logging configured nothing reaches Python's
last-resort handler (which would print warnings to stderr). The application owns levels and
handlers; `verbose=True` only adds a handler where nothing else would print.
"""

from __future__ import annotations

import logging

__all__ = ["LOGGER_NAME", "enable_verbose", "install_null_handler"]

LOGGER_NAME = "cascadeflow_integrations"


def install_null_handler() -> None:
    """Called once at import of the package."""
    lg = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, logging.NullHandler) for h in lg.handlers):
        lg.addHandler(logging.NullHandler())


def _printing_handlers(lg: logging.Logger, skip: logging.Handler | None = None) -> bool:
    """Whether a record of `lg` would reach a handler other than a `NullHandler` (and `skip`)."""
    current: logging.Logger | None = lg
    while current is not None:
        if any(h is not skip and not isinstance(h, logging.NullHandler) for h in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


class _VerboseHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr handler for `verbose=True`; stands aside once the application adds its own handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("[cascadeflow] %(message)s"))

    def handle(self, record: logging.LogRecord) -> bool:
        # logging configured after the agent was created: let the application's handlers print it
        if _printing_handlers(logging.getLogger(LOGGER_NAME), skip=self):
            return False
        return bool(super().handle(record))


def enable_verbose() -> None:
    """`verbose=True`: print INFO lines to stderr, unless the application configured logging.

    A handler is added only when no handler would print the library's records (the logger and its
    ancestors have none besides `NullHandler`s); the level is lowered to INFO only if it was never
    set. With logging configured, the application's handlers and levels decide alone.
    """
    lg = logging.getLogger(LOGGER_NAME)
    if _printing_handlers(lg):
        return
    lg.addHandler(_VerboseHandler())
    if lg.level == logging.NOTSET and lg.getEffectiveLevel() > logging.INFO:
        lg.setLevel(logging.INFO)

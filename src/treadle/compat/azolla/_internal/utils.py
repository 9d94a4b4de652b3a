"""`setup_logging`, as Azolla's README imports it from `azolla._internal.utils`."""

from __future__ import annotations

import logging

from ....errors import ConfigurationError

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def setup_logging(level: str = "INFO") -> None:
    """Send log records to stderr at `level`: an application's choice, which the library never makes itself.

    treadle's records carry a stable `event` key (and ids) in `extra`, for structured handlers.
    """
    if not isinstance(level, str) or level.upper() not in _LEVELS:
        raise ConfigurationError(f"log level must be one of {', '.join(_LEVELS)}, got {level!r}")
    logging.basicConfig(level=level.upper(), format="%(asctime)s - %(name)s - %(levelname)s - %(message)s",
                        datefmt="%Y-%m-%d %H:%M:%S")


def get_logger(name: str) -> logging.Logger:
    """The logger for `name` (one per module, as treadle does)."""
    return logging.getLogger(name)

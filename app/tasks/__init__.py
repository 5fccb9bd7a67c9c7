"""Dramatiq actors. `dramatiq app.tasks` imports this package: the broker first, then every actor module."""

from app.tasks import system  # noqa: F401  (registers actors)
from app.tasks.broker import broker

__all__ = ["broker"]

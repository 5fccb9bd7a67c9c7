"""What can go wrong with an import, in words a marketer can act on."""

from __future__ import annotations

from app.services.forms import FormError


class ImportProblem(FormError):
    """The file or the mapping cannot be imported; the message says why and what to do. `field` names a form field."""


class ImportStateError(ValueError):
    """The action does not fit the import's state (e.g. rolling back an import that is still running)."""


class ImportSuperseded(RuntimeError):
    """Another run took this import over (it was resumed, rolled back or cancelled meanwhile)."""

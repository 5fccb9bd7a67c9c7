"""The one error a service raises for values a person typed: messages keyed by form field name.

The web layer turns it into the same form re-rendered with each message next to its field (422);
`"__all__"` holds a message about the form as a whole.
"""

from __future__ import annotations

FORM_WIDE = "__all__"


class FormError(ValueError):
    def __init__(self, errors: dict[str, str] | str, field: str = "") -> None:
        if isinstance(errors, str):
            errors = {field or FORM_WIDE: errors}
        super().__init__("; ".join(errors.values()))
        self.errors = errors
        self.field = field or next(iter(errors), FORM_WIDE)

"""The one error a service raises for values a person typed: messages keyed by form field name."""


class FormError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors

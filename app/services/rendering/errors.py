"""The two ways a template fails: it cannot be compiled (the editor shows it), or one render failed."""

from __future__ import annotations

# The part of a message a problem was found in: "subject", "html" or "text".
HTML = "html"


class TemplateError(ValueError):
    """A template cannot be compiled or cannot render at all; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None, part: str = HTML) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.part = part


class RenderError(RuntimeError):
    """A message could not be rendered for one recipient (bad data, not a bad template)."""

    def __init__(self, message: str, part: str = HTML) -> None:
        super().__init__(message)
        self.part = part

"""One error type the CLI turns into a single clear line and exit code 2."""

from __future__ import annotations

from pathlib import Path


class TicketsimError(Exception):
    """A user-facing error: what went wrong, where (file, row, field) and what to do.

    The library raises it for bad input and bad configuration; the CLI prints
    ``str(err)`` and exits with code 2, without a traceback.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.row = row
        self.field = field
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field '{self.field}'")
        text = (": ".join([", ".join(where), self.message]) if where else self.message)
        if self.hint:
            text += f" ({self.hint})"
        return text


class ConfigError(TicketsimError):
    """Invalid configuration: unknown key, wrong type or value out of range."""


class ModelNotFoundError(TicketsimError):
    """A model name that is neither a local folder nor available offline."""

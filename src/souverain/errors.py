"""Exceptions raised by souverain.

Probes never raise on a misbehaving target: they return Evidence with a Status. Exceptions are for the
user's input and the environment::

    SouverainError                 base class; str() is one clear line for the user
    ├── InputError                 a file or argument the user gave is wrong (names the input and the problem)
    │   ├── PortfolioError         a portfolio file is wrong (file, line, field)
    │   ├── KBError                a knowledge-base file is wrong (file, line, entity, field)
    │   └── RunNotFound            no run with that id in the store
    ├── StoreError                 the store cannot be opened, migrated or written
    └── EnvironmentProblem         a required program or service is missing (names the Debian package)
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "EnvironmentProblem",
    "InputError",
    "KBError",
    "PortfolioError",
    "RunNotFound",
    "SouverainError",
    "StoreError",
    "require_file",
]


class SouverainError(Exception):
    """Base class; the message is one line meant for the user."""


class InputError(SouverainError):
    """Bad user input."""


class PortfolioError(InputError):
    """A portfolio file is invalid; carries every problem found, not only the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        first = problems[0] if problems else "invalid portfolio"
        more = (
            f" (and {len(problems) - 1} more problem(s); `souverain portfolio check FILE` lists them)"
            if len(problems) > 1
            else ""
        )
        super().__init__(first + more)


class KBError(InputError):
    """Knowledge-base files are invalid or inconsistent; carries every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        first = problems[0] if problems else "invalid knowledge base"
        more = (
            f" (and {len(problems) - 1} more problem(s); `souverain kb check` lists them)"
            if len(problems) > 1
            else ""
        )
        super().__init__(first + more)


class StoreError(SouverainError):
    """The store cannot be used."""


class RunNotFound(InputError):
    """No such run."""


class EnvironmentProblem(SouverainError):
    """Something outside souverain is missing or broken."""


def require_file(path: Path) -> None:
    """An input file the user named must be a file: ``InputError`` saying it is a folder, or missing."""
    if not path.is_file():
        raise InputError(f"{path}: {'a folder, not a file' if path.is_dir() else 'file not found'}")

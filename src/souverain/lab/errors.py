"""Errors of the lab."""

from __future__ import annotations

from souverain.errors import SouverainError


class LabError(SouverainError, RuntimeError):
    """A lab operation failed; the message is one line, meant for the user (``error: …``, exit code 1)."""

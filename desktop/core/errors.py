"""User-facing errors.

A :class:`UserError` is something the user (agent, admin or IT) can act on: it says what
happened and how to fix it. Anything else that escapes is a bug.
"""

from __future__ import annotations


class UserError(Exception):
    """An error with a message a person can act on."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} {self.fix}".strip()


class ModelError(UserError):
    """The language model file is missing, unreadable or not usable."""


class KnowledgeError(UserError):
    """The knowledge index or a knowledge pack is missing, corrupt or incompatible."""


class SettingError(UserError):
    """A setting value is invalid or locked by machine policy."""


class SyncError(UserError):
    """A knowledge-pack sync or pack-repository operation was refused or failed."""


class AudioError(UserError):
    """Call audio is missing, unreadable, in a form we cannot use, or could not be transcribed."""

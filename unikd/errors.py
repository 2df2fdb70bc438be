"""Errors that are the user's to fix (bad input, missing files): the CLI prints them as one line and exits 2.

Every module's user-facing error subclasses UserError, so the CLI needs to know only this one type."""


class UserError(ValueError):
    """Base for errors whose message tells the user what to change."""

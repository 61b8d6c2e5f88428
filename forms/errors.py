"""The two ways a form can fail: it cannot be understood, or the submitted values are wrong."""

from __future__ import annotations


class FormResolutionError(Exception):
    """A task's form cannot be turned into fields (missing, unsupported or malformed)."""


class FormValidationError(Exception):
    """Submitted values were rejected; `errors` maps each field path to what is wrong with it.

    Each value is English text that is also a `messages.Message` (or `Messages`), whose
    code and parameters let an interface show the problem in another language.
    """

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        listed = "; ".join(f"{path}: {message}" for path, message in self.errors.items())
        super().__init__(f"invalid form values: {listed}")

"""Which form a task or start event has: generated (`formData`), `formRef` or `formKey`;
one the server cannot validate (embedded HTML, an external app) is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .camunda_forms import form_from_camunda_form
from .errors import FormResolutionError
from .formdata import form_from_form_data
from .model import Form

__all__ = ["FormResolutionError", "form_for"]

CAMUNDA_FORM_KEYS = ("camunda-forms:deployment:", "camunda-forms:app:")


def form_for(attrs: dict[str, Any], lookup: Callable[[str], dict | None]) -> Form | None:
    if attrs.get("formData"):
        return form_from_form_data(attrs["formData"])
    ref = attrs.get("formRef")
    if ref:
        return _deployed(ref, lookup, f"formRef '{ref}'")
    key = attrs.get("formKey")
    if key:
        for prefix in CAMUNDA_FORM_KEYS:
            if key.startswith(prefix):
                name = key[len(prefix):].rsplit("/", 1)[-1]
                return _deployed(name, lookup, f"formKey '{key}'")
        raise FormResolutionError(
            f"form key '{key}' is not supported: only Camunda Forms (formRef or "
            "camunda-forms:deployment:FILE.form) and generated forms (formData) run here")
    return None


def _deployed(ref: str, lookup: Callable[[str], dict | None], where: str) -> Form:
    doc = lookup(ref)
    if doc is None:
        raise FormResolutionError(f"{where}: form '{ref}' is not deployed")
    return form_from_camunda_form(doc, source=ref)

"""Numbers read from requests, parsed in one place: ASCII digits only (`"²".isdigit()`
is True and `int("٣")` is 3), and small enough for a database id (a 40-digit id
overflows SQLite's integers). Anything else is "no number", never an exception."""

import re

from django import forms

from console.errors import WharfError

WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


def whole_number(text):
    """The number `text` spells in ASCII digits, or None."""
    text = str(text if text is not None else "").strip()
    return int(text) if WHOLE_NUMBER.fullmatch(text) else None


class BadParameter(WharfError):
    status = 400


def number_in(params, name):
    """The whole number `params[name]` (a request's GET or POST), None when it is absent
    or empty; anything else is refused with a 400 that names the parameter."""
    text = (params.get(name) or "").strip()
    if not text:
        return None
    number = whole_number(text)
    if number is None:
        raise BadParameter(f"The parameter “{name}” is a whole number.")
    return number


class ChoicesById(forms.ModelMultipleChoiceField):
    """A multiple choice of rows by id that says "not a valid choice" for an id that
    is not a number, instead of asking the database about it."""

    def _check_values(self, value):
        for pk in value or ():
            if whole_number(pk) is None:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                )
        return super()._check_values(value)

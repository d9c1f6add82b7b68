"""Numbers read from requests, parsed in one place: ASCII digits only (`"²".isdigit()`
is True and `int("٣")` is 3), and small enough for a database id (a 40-digit id
overflows SQLite's integers). Anything else is "no number", never an exception."""

import re

from django import forms

WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


def whole_number(text):
    """The number `text` spells in ASCII digits, or None."""
    text = str(text if text is not None else "").strip()
    return int(text) if WHOLE_NUMBER.fullmatch(text) else None


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

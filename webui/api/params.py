"""IDs and counts in query parameters. ``str.isdigit`` is no test for them: it is true of
"²" and other Unicode digits that ``int`` refuses, and a number past the database's 64-bit
integers overflows SQLite in an ``id__in`` lookup. Both were server errors."""
from __future__ import annotations

from rest_framework.exceptions import ValidationError

LARGEST_ID = 2**63 - 1


def is_whole_number(text: str) -> bool:
    """ASCII digits only, as a user writes an ID or a count."""
    return text.isascii() and text.isdigit()


def ids(values: list[str], field: str, message: str) -> list[int]:
    """The IDs given (refused under ``field`` with ``message`` unless each is a whole number);
    one past the largest ID names nothing, so it is left out."""
    if not all(is_whole_number(value) for value in values):
        raise ValidationError({field: message})
    return [int(value) for value in values if int(value) <= LARGEST_ID]

"""The API's JSON bodies: JSON may spell half of a UTF-16 pair (``"\\ud800"``), which Python
reads as a lone surrogate: no character, so no text that could be stored or answered with.
Such a body is refused whole, as a body that is not JSON is, before any view sees it (form
and multipart bodies cannot hold one: Django decodes them with replacement characters)."""
from __future__ import annotations

import json

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            half = exc.object[exc.start]
            raise ParseError(f"JSON parse error - \\u{ord(half):04x} is half of a UTF-16 surrogate pair, "
                             "not a character.") from None
        return data

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# No request this API accepts nests deeper than a few levels. Deeper input is refused
# before anything walks it: Python's decoder recurses (about a thousand levels raise
# RecursionError), and so do DRF's fields and Django's lookups on nested values.
MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing deeply nested documents with a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            data = None
            too_deep = True
        else:
            too_deep = _deeper_than(data, MAX_DEPTH)
        if too_deep:
            raise ParseError(f"JSON parse error - the document nests deeper than {MAX_DEPTH}.")
        return data


def _deeper_than(value, limit: int) -> bool:
    """Whether `value` nests more than `limit` containers deep (iteratively, no recursion)."""
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False

from rest_framework.routers import DefaultRouter

# An id in a URL: digits, at most 18 of them, so every id that routes fits the database's
# 64-bit keys (a longer one is simply an unknown URL, a 404, instead of an overflow).
ID_PATTERN = r"[0-9]{1,18}"


class OptionalSlashRouter(DefaultRouter):
    """The original README wrote some paths with a trailing slash and some without
    (`.../messages`, `.../mark_read`); clients use both, so every route accepts both
    instead of redirecting (a redirected POST or PATCH loses its body)."""

    include_format_suffixes = False  # JSON only; `threads/1.json` would be noise

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"

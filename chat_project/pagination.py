from rest_framework import pagination


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """`?limit=&offset=` paging with a ceiling, so no request can ask for a whole table."""

    max_limit = 100

    def paginate_rows(self, request, *, count: int, fetch) -> list:
        """Page through rows a selector fetches itself: `fetch(limit=, offset=)` returns
        the page, `count` is the total. For reads that are not querysets."""
        self.request = request
        self.limit = self.get_limit(request)
        # Past the end every page is empty; clamping also keeps absurd offsets (the query
        # string accepts any number) inside what the database's integers hold.
        self.offset = min(self.get_offset(request), count)
        self.count = count
        return fetch(limit=self.limit, offset=self.offset)

from rest_framework import pagination

# The largest offset handed to a query (a database integer holds it).
MAX_OFFSET = 2**62


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

    def paginate_counted(self, request, *, fetch) -> list:
        """Like `paginate_rows`, for reads that learn the total with the page:
        `fetch(limit=, offset=)` returns `(page, count)`."""
        self.request = request
        self.limit = self.get_limit(request)
        # Kept inside what the database's integers hold; past the end the page is empty.
        page, self.count = fetch(limit=self.limit, offset=min(self.get_offset(request), MAX_OFFSET))
        self.offset = min(self.get_offset(request), self.count)
        return page

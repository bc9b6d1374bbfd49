from urllib import parse

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

    # DRF builds each link by parsing and re-encoding the URL's query twice (once to set
    # `limit`, once more for `offset`): half the cost of a page's paginated response. The
    # links below set both in one pass, into the same query: DRF's first pass leaves it
    # in the form its second one parses back unchanged (parse_qs of urlencode), so the
    # links are DRF's, character for character (chat_project/tests/test_pagination.py).

    def get_next_link(self) -> str | None:
        if self.offset + self.limit >= self.count:
            return None
        return self._link(self.offset + self.limit)

    def get_previous_link(self) -> str | None:
        if self.offset <= 0:
            return None
        if self.offset - self.limit <= 0:
            return self._link(None)
        return self._link(self.offset - self.limit)

    def _link(self, offset: int | None) -> str:
        """The request's URL with `limit` set and `offset` set, or removed if None."""
        scheme, netloc, path, query, fragment = parse.urlsplit(self.request.build_absolute_uri())
        params = parse.parse_qs(query, keep_blank_values=True)
        params[self.limit_query_param] = [str(self.limit)]
        if offset is None:
            params.pop(self.offset_query_param, None)
        else:
            params[self.offset_query_param] = [str(offset)]
        query = parse.urlencode(sorted(params.items()), doseq=True)
        return parse.urlunsplit((scheme, netloc, path, query, fragment))

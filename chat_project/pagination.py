from urllib import parse

from rest_framework import pagination

# The largest offset handed to a query (a database integer holds it).
MAX_OFFSET = 2**62
# Where the documentation's examples show the API: the server `make run` starts.
EXAMPLE_ORIGIN = "http://127.0.0.1:8000"


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """`?limit=&offset=` paging with a ceiling, so no request can ask for a whole table."""

    max_limit = 100
    # The path a schema describes (set by chat_project.schema.ChatAutoSchema), for links
    # in the documented example that are that endpoint's own.
    example_path = "/api/"

    def get_paginated_response_schema(self, schema: dict) -> dict:
        """DRF's description of a page, its example the second of three pages of one
        (`?limit=1&offset=1`) with the links this server answers."""
        page = super().get_paginated_response_schema(schema)
        url = f"{EXAMPLE_ORIGIN}{self.example_path}?{self.limit_query_param}=1"
        properties = page["properties"]
        properties["count"]["example"] = 3
        properties["next"]["example"] = f"{url}&{self.offset_query_param}=2"
        properties["previous"]["example"] = url
        return page

    def paginate_rows(self, request, *, count: int, fetch) -> list:
        """Page through rows a selector fetches itself: `fetch(limit=, offset=)` returns
        the page, `count` is the total. For reads that are not querysets."""
        self.request = request
        self.limit = self.get_limit(request)
        # Past the end every page is empty; clamping also keeps absurd offsets (the query
        # string accepts any number) inside what the database's integers hold.
        self.offset = min(self.get_offset(request), count)
        self.count = count
        if self.offset == count:
            return []  # nothing there: no need to ask (a deep page costs the most to read)
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

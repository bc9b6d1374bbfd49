from rest_framework import pagination


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """`?limit=&offset=` paging with a ceiling, so no request can ask for a whole table."""

    max_limit = 100

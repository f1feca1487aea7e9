"""Offset paging that stops on `total`, on a short or empty page, or on `has_more: false`."""

from typing import Any

from dlt.common import jsonpath
from dlt.sources.helpers.rest_client.paginators import OffsetPaginator, SinglePagePaginator
from requests import Response

from .map_schema import PaginatorSpec

DEFAULT_LIMIT = 100
DEFAULT_OFFSET_PARAM = "offset"


class BillingOffsetPaginator(OffsetPaginator):
    """Offset paging where `total` and `has_more` are hints, not requirements.

    Expects `GET /v1/billing?offset=200&limit=100` to answer with up to 100 records and,
    optionally, the record count and a more-pages flag:

        {"data": [...], "total": 250, "has_more": false}

    Paging stops at the first of: the next offset reaching `total`, a page shorter than
    `limit` (an empty one included), or `has_more` being false. dlt's `OffsetPaginator`
    raises when `total` is missing and reads on past a short page; this one does neither.
    """

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        total = self._read_total(body)
        has_more = self._read_has_more(body)
        self.current_value += self.value_step

        page_is_full = len(data or []) >= self.limit
        below_total = total is None or self.current_value < total
        self._has_next_page = page_is_full and below_total and has_more is not False

    def _read_total(self, body: Any) -> int | None:
        values = jsonpath.find_values(self.total_path, body) if self.total_path else []
        total = values[0] if values else None
        if total is None:
            return None
        if isinstance(total, int) and not isinstance(total, bool):
            return total
        if isinstance(total, str) and total.isdigit():
            return int(total)
        raise ValueError(f"`{self.total_path}` in the body is not a record count: {total!r}")

    def _read_has_more(self, body: Any) -> bool | None:
        if self.has_more_path is None:
            return None
        values = jsonpath.find_values(self.has_more_path, body)
        flag = values[0] if values else None
        if isinstance(flag, str) and flag.lower() in ("true", "false"):
            return flag.lower() == "true"
        return flag if isinstance(flag, bool) else None


def make_paginator(spec: PaginatorSpec) -> BillingOffsetPaginator | SinglePagePaginator:
    """Builds the paginator an endpoint map asks for."""
    if spec["type"] == "single_page":
        return SinglePagePaginator()
    return BillingOffsetPaginator(
        limit=spec.get("limit", DEFAULT_LIMIT),
        offset_param=spec.get("offset_param", DEFAULT_OFFSET_PARAM),
        limit_param=spec.get("limit_param", "limit"),
        total_path=spec.get("total_path"),
        has_more_path=spec.get("has_more_path"),
    )

"""Paging by token, by link and by page number, for the vendor profiles: dlt's paginators
where one fits, and `StartingAfterPaginator` for Stripe's scheme, which dlt has none for."""

from typing import Any

from dlt.common import jsonpath
from dlt.sources.helpers.rest_client.paginators import (
    BasePaginator,
    JSONLinkPaginator,
    JSONResponseCursorPaginator,
    PageNumberPaginator,
)
from requests import Request, Response

from .map_schema import PaginatorSpec

DEFAULT_CURSOR_FIELD = "id"
DEFAULT_STARTING_AFTER_PARAM = "starting_after"
DEFAULT_PAGE_PARAM = "page"


class StartingAfterPaginator(BasePaginator):
    """Pages on from the last record's id, until the body says no more pages follow.

    Expects `GET /v1/invoices?limit=100&starting_after=in_1Mtz` to answer with the records
    after `in_1Mtz` and a flag:

        {"object": "list", "data": [{"id": "in_1Mu0", ...}, ...], "has_more": true}

    The next request carries the page's last `cursor_field` in `cursor_param`. Paging stops
    on `has_more: false` or an empty page; a body without the flag pages on until a page
    comes back empty.
    """

    def __init__(
        self,
        cursor_param: str = DEFAULT_STARTING_AFTER_PARAM,
        cursor_field: str = DEFAULT_CURSOR_FIELD,
        has_more_path: str | None = "has_more",
    ) -> None:
        super().__init__()
        self.cursor_param = cursor_param
        self.cursor_field = cursor_field
        self.has_more_path = jsonpath.compile_path(has_more_path) if has_more_path else None
        self._last: Any = None

    def init_request(self, request: Request) -> None:
        self._last = None
        self._has_next_page = True

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        page = data or []
        flags = (
            jsonpath.find_values(self.has_more_path, response.json()) if self.has_more_path else []
        )
        if not page or (flags and flags[0] is False):
            self._has_next_page = False
            return
        last = page[-1].get(self.cursor_field) if isinstance(page[-1], dict) else None
        if last is None:
            raise ValueError(f"the page's last record has no `{self.cursor_field}` to page on")
        self._last = last

    def update_request(self, request: Request) -> None:
        request.params = {**(request.params or {}), self.cursor_param: self._last}


class NextLinkPaginator(JSONLinkPaginator):
    """Follows the next page's URL in the body, and stops where the body says no more follow.

    Expects an answer such as Paddle's, whose link is there on the last page too:

        {"data": [...], "meta": {"pagination": {"next": ".../transactions?after=txn_01h",
                                                "has_more": false}}}

    Paging stops on a missing or null link, `has_more: false`, or an empty page; dlt's
    `JSONLinkPaginator` knows only the first, and would follow Paddle's link forever.
    """

    def __init__(self, next_url_path: str, has_more_path: str | None = None) -> None:
        super().__init__(next_url_path=next_url_path)
        self.has_more_path = jsonpath.compile_path(has_more_path) if has_more_path else None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        body = response.json()
        flags = jsonpath.find_values(self.has_more_path, body) if self.has_more_path else []
        if not data or (flags and flags[0] is False):
            self._has_next_page = False


def make_vendor_paginator(spec: PaginatorSpec) -> BasePaginator:
    """Builds the paginator of a `cursor`, `starting_after`, `next_link` or `page_number` map."""
    kind, has_more = spec["type"], spec.get("has_more_path")
    if kind == "starting_after":
        return StartingAfterPaginator(
            cursor_param=spec.get("cursor_param", DEFAULT_STARTING_AFTER_PARAM),
            cursor_field=spec.get("cursor_field", DEFAULT_CURSOR_FIELD),
            has_more_path=has_more or "has_more",
        )
    if kind == "cursor":
        return JSONResponseCursorPaginator(
            cursor_path=spec["cursor_path"],
            cursor_param=spec["cursor_param"],
            has_more_path=has_more,
        )
    if kind == "next_link":
        return NextLinkPaginator(next_url_path=spec["cursor_path"], has_more_path=has_more)
    if kind == "page_number":
        return PageNumberPaginator(
            base_page=spec.get("first_page", 1),
            page_param=spec.get("page_param", DEFAULT_PAGE_PARAM),
            total_path=spec.get("total_path"),
            stop_after_empty_page=True,
            has_more_path=has_more,
        )
    raise ValueError(f"no vendor paginator of type {kind}")


def page_param(spec: PaginatorSpec) -> str | None:
    """The query parameter that tells one page from another, for log lines and errors."""
    kind = spec["type"]
    if kind == "starting_after":
        return spec.get("cursor_param", DEFAULT_STARTING_AFTER_PARAM)
    if kind == "cursor":
        return spec["cursor_param"]
    if kind == "page_number":
        return spec.get("page_param", DEFAULT_PAGE_PARAM)
    return None

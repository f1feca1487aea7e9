"""Offset paging that stops on `total`, a short page or `has_more`, and leaves no gap when
records move while it reads."""

import copy
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from dlt.common import jsonpath, logger
from dlt.sources.helpers.rest_client.paginators import (
    BasePaginator,
    OffsetPaginator,
    SinglePagePaginator,
)
from requests import PreparedRequest, Request, Response

from .map_schema import PaginatorSpec
from .read_ahead import PageReadAhead
from .vendor_paging import make_vendor_paginator

DEFAULT_LIMIT = 100
DEFAULT_OFFSET_PARAM = "offset"

RecordKey = tuple[Any, ...]
_Template = tuple[tuple[Any, ...], int, PreparedRequest]  # request signature, offset, request


class BillingOffsetPaginator(OffsetPaginator):
    """Offset paging where `total` and `has_more` are hints, and shifting data is caught.

    Expects `GET /v1/billing?offset=200&limit=100` to answer with up to 100 records and,
    optionally, the record count and a more-pages flag:

        {"data": [...], "total": 250, "has_more": false}

    Paging stops at the first of: the next offset reaching `total`, a page shorter than
    `limit` (an empty one included), or `has_more` being false. dlt's `OffsetPaginator`
    raises when `total` is missing and reads on past a short page; this one does neither.

    Records inserted or deleted ahead of the offset while pages are read shift the rest,
    and plain offset paging then skips records without a sign. With a primary key, each
    page after the first starts one record early, on the last record already read. If that
    record is not where it should be, the paginator finds it in the page (records were
    inserted: what came before it is dropped) or steps back a page at a time until it does
    (records were deleted: what was skipped is read again). If none of the previous page is
    left even at offset 0, it reads on from there: a record may come twice, never not at all.
    """

    def __init__(
        self,
        *args: Any,
        resource: str = "",
        primary_key: Sequence[str] = (),
        read_ahead: PageReadAhead | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.resource = resource
        self.primary_key = list(primary_key)
        self.overlap = 1 if self.primary_key and self.limit > 1 else 0
        self.read_ahead = read_ahead
        self._last_page: list[Any] = []
        self._total: int | None = None
        self._pages_read = 0
        self._template: _Template | None = None

    def init_request(self, request: Request) -> None:
        self._last_page = []
        self._total = None
        self._pages_read = 0
        super().init_request(request)

    def update_request(self, request: Request) -> None:
        """Points `request` at the next page, and has the pages after it read ahead."""
        super().update_request(request)
        if self.read_ahead is None or self._pages_read == 0:
            return  # the first answer tells whether the API gives a total
        if not self._has_next_page:
            self.read_ahead.forget(self.resource)
            return
        step = self.limit - self.overlap
        upcoming: Iterable[int] = (
            range(self.current_value, self._total - self.overlap, step)
            if self._total is not None
            # no total: read ahead blindly, no further than one round of requests
            else itertools.islice(itertools.count(self.current_value, step), self.read_ahead.limit)
        )
        self.read_ahead.schedule(self.resource, upcoming, self._page_request_maker(request))

    def _page_request_maker(self, request: Request) -> Callable[[int], PreparedRequest]:
        """Makes prepared copies of `request` for other offsets.

        Preparing a request costs about a millisecond of the main thread, as much as the rest
        of a page's work; the first page is prepared, the others take its URL with another
        offset in it.
        """
        assert self.read_ahead is not None
        read_ahead = self.read_ahead
        params = request.params.items()
        others = tuple(sorted((key, str(value)) for key, value in params if key != self.param_name))
        signature = (request.method, request.url, others)

        def page_request(offset: int) -> PreparedRequest:
            page = self._with_offset(signature, offset)
            if page is None:
                page_request = copy.copy(request)
                page_request.params = {**request.params, self.param_name: offset}
                page = read_ahead.prepare(page_request)
                self._template = (signature, offset, page)
            return page

        return page_request

    def _with_offset(self, signature: tuple[Any, ...], offset: int) -> PreparedRequest | None:
        """A copy of the last prepared page request with `offset` in its URL, if it fits."""
        if self._template is None or self._template[0] != signature:
            return None
        _, template_offset, prepared = self._template
        pattern = rf"([?&]{re.escape(self.param_name or '')}=){template_offset}(?=&|$)"
        url, found = re.subn(pattern, rf"\g<1>{offset}", prepared.url or "", count=1)
        if not found:
            return None
        page = prepared.copy()
        page.url = url
        return page

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        page = data if data is not None else []
        read = len(page)
        read_page = page[:] if self.overlap else []
        self._pages_read += 1
        total = self._total = self._read_total(body)
        has_more = self._read_has_more(body)
        offset = self.current_value

        if not self._drop_records_read_before(page):
            if offset > 0:
                page.clear()  # read again once paging is back in step
                self._step_back(offset)
                return
            logger.warning(
                f"{self.resource}: none of the records read last is left; reading on from the"
                " start, so some records may come twice"
            )

        at_end = (
            read < self.limit or (total is not None and offset + read >= total) or has_more is False
        )
        self._has_next_page = not at_end
        self.current_value = offset + read - self.overlap
        self._last_page = read_page

    def _key(self, record: Any) -> RecordKey:
        return tuple(record.get(field) for field in self.primary_key)

    def _drop_records_read_before(self, page: list[Any]) -> bool:
        """Trims the start of `page` up to the last record already read, in place.

        dlt yields the list passed to `update_state`, so trimming it here keeps a record
        from being loaded twice. Returns False when no record of the previous page is in
        this one, so records may have been skipped.
        """
        if not self._last_page:
            return True
        if page and self._key(page[0]) == self._key(self._last_page[-1]):
            del page[0]  # paging in step: the page starts on the last record read
            return True
        positions = {self._key(record): index for index, record in enumerate(page)}
        for key in map(self._key, reversed(self._last_page)):
            if key in positions:
                if positions[key] > 0:
                    logger.warning(
                        f"{self.resource}, offset {self.current_value}: records were inserted"
                        " ahead while paging; the ones already read are skipped"
                    )
                del page[: positions[key] + 1]
                return True
        return False

    def _step_back(self, offset: int) -> None:
        page_back = max(offset - (self.limit - self.overlap), 0)
        logger.warning(
            f"{self.resource}, offset {offset}: records moved ahead of this page while paging;"
            f" reading again from offset {page_back} so that none is skipped"
        )
        self.current_value = page_back
        self._has_next_page = True

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


def offset_param(spec: PaginatorSpec) -> str | None:
    """The query parameter that carries the offset, or None when the endpoint has none."""
    return spec.get("offset_param", DEFAULT_OFFSET_PARAM) if spec["type"] == "offset" else None


def page_size_params(spec: PaginatorSpec) -> dict[str, int]:
    """The page size as a query parameter, for the paginators that do not send it."""
    if spec["type"] in ("offset", "single_page"):
        return {}
    return {spec.get("limit_param", "limit"): spec.get("limit", DEFAULT_LIMIT)}


def make_paginator(
    spec: PaginatorSpec,
    resource: str = "",
    primary_key: Sequence[str] = (),
    read_ahead: PageReadAhead | None = None,
) -> BasePaginator:
    """Builds the paginator an endpoint map asks for."""
    if spec["type"] == "single_page":
        return SinglePagePaginator()
    if spec["type"] != "offset":
        return make_vendor_paginator(spec)
    return BillingOffsetPaginator(
        limit=spec.get("limit", DEFAULT_LIMIT),
        offset_param=offset_param(spec),
        limit_param=spec.get("limit_param", "limit"),
        total_path=spec.get("total_path"),
        has_more_path=spec.get("has_more_path"),
        resource=resource,
        primary_key=primary_key,
        read_ahead=read_ahead,
    )

"""Fetches the pages a resource will ask for next on a few threads, within a request budget."""

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from dlt.common import logger
from requests import PreparedRequest, Request, Response
from requests.adapters import HTTPAdapter

Send = Callable[..., Response]


class RequestBudget:
    """Spaces the start of requests so that no more than `per_second` begin in any second."""

    def __init__(self, per_second: float | None) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self._next_start = 0.0
        self._lock = threading.Lock()

    def wait_turn(self) -> None:
        """Blocks until this request may start."""
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self.interval
        if start > now:
            time.sleep(start - now)


class BudgetedAdapter(HTTPAdapter):
    """A transport adapter that takes a turn from a `RequestBudget` before every attempt."""

    def __init__(self, budget: RequestBudget, pool_size: int) -> None:
        super().__init__(pool_connections=pool_size, pool_maxsize=pool_size)
        self.budget = budget

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        self.budget.wait_turn()
        return super().send(request, *args, **kwargs)


class PageReadAhead:
    """Sends page requests before dlt asks for them and hands each answer over when it does.

    dlt reads the pages of a rest_api resource one after another, so each waits for the one
    before it. The paginator names the pages it will want next; they are sent here, up to
    `concurrency` at a time, through the same retrying session, and the answer (or the
    error, after its retries) is returned when dlt sends that very request. A 429 halves
    how many pages are read ahead; twenty answers without one let it grow back by one.

    Answers wait for dlt up to `PAGES_PER_REQUEST` times `concurrency` pages ahead, so that
    the requests keep going while dlt works through a batch of pages at once.
    """

    RECOVER_AFTER = 20
    PAGES_PER_REQUEST = 4

    def __init__(self, concurrency: int, prepare: Callable[[Request], PreparedRequest]) -> None:
        self.concurrency = max(1, concurrency)
        self.limit = self.concurrency
        self.prepare = prepare
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="billing-page")
        self._ahead: dict[str, dict[int, tuple[str, Future[Response]]]] = {}
        self._lock = threading.Lock()
        self._calm_answers = 0
        self._send: Send | None = None
        self._send_kwargs: dict[str, Any] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> "PageReadAhead":
        """Shared, not copied: dlt deep-copies paginators, and they all use one read-ahead."""
        return self

    def wrap(self, send: Send) -> Send:
        """Returns `send`, answering from the pages read ahead when it can."""
        self._send = send

        def send_or_take(request: PreparedRequest, **kwargs: Any) -> Response:
            self._send_kwargs = kwargs
            future = self.take(request.url or "")
            response = future.result() if future is not None else send(request, **kwargs)
            self.answered()
            return response

        return send_or_take

    def schedule(
        self,
        reader: str,
        offsets: Iterable[int],
        page_request: Callable[[int], PreparedRequest],
    ) -> None:
        """Keeps the pages at the first `offsets` under way for `reader`, a resource, no more
        than `limit` requests at a time; `page_request` makes the request for an offset, and
        is called only for a page that is sent. A page no longer wanted is dropped if it has
        not started; one already sent is kept, so its answer, or its error after every retry,
        serves the request for it instead of a second round of attempts."""
        if self._send is None:
            return
        wanted = list(itertools.islice(offsets, self.limit * self.PAGES_PER_REQUEST))
        with self._lock:
            ahead = self._ahead.setdefault(reader, {})
            for offset in set(ahead) - set(wanted):
                if ahead[offset][1].cancel():
                    del ahead[offset]
            in_flight = sum(not future.done() for _, future in ahead.values())
            for offset in wanted:
                if in_flight >= self.limit:
                    break
                if offset in ahead:
                    continue
                request = page_request(offset)
                future = self._pool.submit(self._send, request, **self._send_kwargs)
                ahead[offset] = (request.url or "", future)
                in_flight += 1

    def take(self, url: str) -> Future[Response] | None:
        """The page read ahead for `url`, if there is one; it is handed over only once."""
        with self._lock:
            for ahead in self._ahead.values():
                for offset, (ahead_url, future) in ahead.items():
                    if ahead_url == url:
                        del ahead[offset]
                        return future
        return None

    def forget(self, reader: str) -> None:
        """Drops every page read ahead for `reader`: its paging has ended."""
        with self._lock:
            for _, future in self._ahead.pop(reader, {}).values():
                future.cancel()

    def rate_limited(self) -> None:
        """Halves the pages read ahead after a 429."""
        with self._lock:
            self._calm_answers = 0
            if self.limit > 1:
                self.limit = max(1, self.limit // 2)
                logger.warning(f"rate limited: reading {self.limit} page(s) ahead from now on")

    def answered(self) -> None:
        """Counts an answer without a 429; enough of them raise the read-ahead by one."""
        with self._lock:
            self._calm_answers += 1
            if self._calm_answers >= self.RECOVER_AFTER and self.limit < self.concurrency:
                self.limit += 1
                self._calm_answers = 0

"""A local, deterministic billing REST API with fault injection, for tests and demos."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import random
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

Record = dict[str, Any]
Item = tuple[str, int, Decimal]
Action = Callable[["SandboxAPI"], object]

HOST = "127.0.0.1"
API_PATH = "/v1/billing"
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
EXPONENTS = {"EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3, "USD": 2}
FAULT_KINDS = ("status", "drop", "truncate", "not_json", "no_data", "no_total", "delay")
FIRST_DAY, DAYS_IN_RANGE = date(2024, 1, 1), 731  # 2024-01-01 .. 2025-12-31
SPECIAL_CURRENCY = {3: "USD", 5: "USD", 7: "JPY"}
SPECIAL_ITEMS: dict[int, list[Item]] = {
    3: [("sku_big", 1, Decimal("123456789012345000.00")), ("sku_extra", 1, Decimal("678.91"))],
    5: [("sku_trap", 1, Decimal("9007199254740993.00")), ("sku_cent", 1, Decimal("0.01"))],
}
DESCRIPTIONS = ("Monthly subscription", "Usage overage", "Annual plan", "Seat top-up", "Setup fee")
_AMOUNT_MARK = "\x00amount:"  # json.dumps writes it as "\u0000amount:<digits>"
_MARKED_AMOUNT = re.compile(r'"\\u0000amount:(-?\d+(?:\.\d+)?)"')
_INSTANT = re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d))?", re.ASCII)
SECOND = timedelta(seconds=1)


@dataclass
class Fault:
    """One injected misbehaviour of the /v1/billing endpoint."""

    kind: str
    request: int | None = None
    offset: int | None = None
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0

    def __post_init__(self) -> None:
        """Reject unknown fault kinds early."""
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}, expected one of {FAULT_KINDS}")

    def matches(self, number: int, offset: int | None) -> bool:
        """Tell whether this fault applies to request `number` asking for `offset`."""
        if self.request is not None and self.request != number:
            return False
        return self.offset is None or self.offset == offset


@dataclass
class RequestLog:
    """One /v1/billing request as the sandbox saw it."""

    path: str
    params: dict[str, str]
    status: int
    at: float


@dataclass
class _Reply:
    """What to send back for one request and how: whole, truncated or not at all."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    action: Literal["send", "drop", "truncate"] = "send"


def _random_item(rng: random.Random, exponent: int) -> Item:
    """Draw one line item as (sku, quantity, amount)."""
    sku, quantity = f"sku_{rng.randint(1, 40):03d}", rng.randint(1, 5)
    return sku, quantity, Decimal(rng.randint(100, 2_000_000)).scaleb(-exponent)  # minor units


def _stamp(instant: datetime) -> str:
    """Format an aware datetime as a UTC 'YYYY-MM-DDTHH:MM:SSZ' string."""
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_instant(value: str) -> datetime:
    """Parse a timestamp with 'Z' or an offset, or a date meaning midnight UTC, to UTC."""
    if not _INSTANT.fullmatch(value):
        raise ValueError(f"not an ISO-8601 timestamp with offset, nor a date: {value!r}")
    if len(value) == 10:
        value += "T00:00:00Z"
    parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    return parsed.astimezone(timezone.utc)


def _charge_date(rng: random.Random, record_id: int, day: date | None) -> tuple[str, datetime]:
    """Draw the charge date as sent (plain date or offset timestamp) and its UTC instant."""
    if day is None:
        day = FIRST_DAY + timedelta(days=rng.randint(0, DAYS_IN_RANGE - 1))
    if record_id % 10 != 0:
        return day.isoformat(), datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    hours_behind = rng.choice((4, 5, 8))  # late enough that the UTC date is the next day
    tz = timezone(timedelta(hours=-hours_behind))
    hour, minute = rng.randint(24 - hours_behind, 23), rng.choice((0, 15, 30, 45))
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
    return local.isoformat(), local.astimezone(timezone.utc)


def _make_record(
    rng: random.Random, record_id: int, customers: int, day: date | None = None
) -> Record:
    """Build one billing record (charged on `day` if given); ids 3, 5, 7 are edge cases."""
    customer_id = f"cus_{rng.randint(1, customers):05d}"
    currency = SPECIAL_CURRENCY.get(record_id) or rng.choice(sorted(EXPONENTS))
    exponent = EXPONENTS[currency]
    items = SPECIAL_ITEMS.get(record_id) or [
        _random_item(rng, exponent) for _ in range(rng.randint(1, 3))
    ]
    if record_id not in SPECIAL_ITEMS and rng.random() < 0.04:  # a refund
        items = [(sku, quantity, -amount) for sku, quantity, amount in items]
    sent_date, instant = _charge_date(rng, record_id, day)
    updated = instant + timedelta(seconds=rng.randint(0, 30 * 86400))
    return {
        "id": record_id,
        "customer_id": customer_id,
        "currency": currency,
        "amount": format(sum((amount for *_, amount in items), Decimal(0).scaleb(-exponent)), "f"),
        "date": sent_date,
        "status": rng.choice(("paid", "paid", "open", "void")),
        "description": None if rng.random() < 0.25 else rng.choice(DESCRIPTIONS),
        "line_items": [
            {"sku": sku, "quantity": quantity, "amount": format(amount, "f")}
            for sku, quantity, amount in items
        ],
        "updated_at": _stamp(updated),
    }


def make_records(size: int, seed: int) -> list[Record]:
    """Generate `size` deterministic billing records with ids 1..size."""
    if size < 0:
        raise ValueError("size must not be negative")
    rng = random.Random(seed)
    customers = max(1, size // 5)
    return [_make_record(rng, record_id, customers) for record_id in range(1, size + 1)]


def _mark_amounts(record: Record) -> Record:
    """Copy a record with every amount wrapped in a placeholder marker for raw output."""
    items = [{**item, "amount": _AMOUNT_MARK + item["amount"]} for item in record["line_items"]]
    return {**record, "amount": _AMOUNT_MARK + record["amount"], "line_items": items}


def _json_reply(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> _Reply:
    """Build a reply carrying a JSON body."""
    return _Reply(status, json.dumps(body).encode(), headers=headers or {})


def _non_negative_int(value: str | None, default: int) -> int | None:
    """Read a non-negative integer query parameter: default if absent, None if malformed."""
    if value is None:
        return default
    return int(value) if value.isascii() and value.isdigit() else None


class SandboxAPI:
    """The sandbox's data, options, faults and request log (served by running_sandbox)."""

    def __init__(
        self,
        *,
        size: int = 250,
        seed: int = 7,
        api_key: str = "sandbox-key",
        latency_ms: float = 0,
        include_total: bool = True,
        amount_as: Literal["string", "number"] = "string",
        faults: Sequence[Fault] = (),
    ) -> None:
        """Generate the dataset and store the options."""
        if amount_as not in ("string", "number"):
            raise ValueError(f"amount_as must be 'string' or 'number', got {amount_as!r}")
        self.url = ""  # set by running_sandbox once the port is bound
        self.api_key = api_key
        self.records = make_records(size, seed)
        self._seed, self._customers, self._top_id = seed, max(1, size // 5), size
        stamps = [_parse_instant(record["updated_at"]) for record in self.records]
        self._clock = max(stamps, default=datetime(2024, 1, 1, tzinfo=timezone.utc)) + SECOND
        self._actions: dict[int, list[Action]] = {}
        self.latency_ms = latency_ms
        self.include_total = include_total
        self.amount_as = amount_as
        self._faults = [dataclasses.replace(fault) for fault in faults]  # copies: times is spent
        self._log: list[RequestLog] = []
        self._received = 0
        self._lock = threading.Lock()

    @property
    def requests(self) -> list[RequestLog]:
        """Return a snapshot of every /v1/billing request received so far."""
        with self._lock:
            return list(self._log)

    def add_fault(self, fault: Fault) -> None:
        """Arm another fault while running; it is checked after the existing ones."""
        with self._lock:
            self._faults.append(dataclasses.replace(fault))

    def now(self) -> str:
        """Return the sandbox clock's time: the `updated_at` the next change will get."""
        with self._lock:
            return _stamp(self._clock)

    def _tick(self) -> str:
        """Return the clock's time as a stamp and advance it one second (hold the lock)."""
        stamp, self._clock = _stamp(self._clock), self._clock + SECOND
        return stamp

    def _index(self, record_id: int) -> int:
        """Return the list position of the record with `record_id` (hold the lock)."""
        for index, record in enumerate(self.records):
            if record["id"] == record_id:
                return index
        raise KeyError(f"no record with id {record_id} in the sandbox")

    def update(self, record_id: int, **fields: Any) -> Record:
        """Set `fields` on a record in place and stamp its `updated_at` with the next tick."""
        with self._lock:
            record = self.records[self._index(record_id)]
            record.update(fields, updated_at=self._tick())
            return record

    def mark_deleted(self, record_id: int) -> Record:
        """Soft-delete a record: set its status to 'deleted' and stamp it."""
        return self.update(record_id, status="deleted")

    def insert_at_head(self, count: int = 1) -> list[Record]:
        """Create `count` stamped records with new ids and put them first, newest first."""
        if count < 0:
            raise ValueError("count must not be negative")
        with self._lock:
            first = max([self._top_id, *(record["id"] for record in self.records)]) + 1
            created: list[Record] = []
            for record_id in range(first, first + count):
                charged = (self._clock - timedelta(days=2)).date()  # before the stamp
                rng = random.Random(f"{self._seed}:{record_id}")
                record = _make_record(rng, record_id, self._customers, charged)
                created.insert(0, {**record, "updated_at": self._tick()})
            self._top_id = first + count - 1
            self.records[:0] = created
            return list(created)

    def delete_at_head(self, count: int = 1) -> list[Record]:
        """Hard-delete the first `count` records of the list and return them."""
        if count < 0:
            raise ValueError("count must not be negative")
        with self._lock:
            removed = self.records[:count]
            del self.records[:count]
            return removed

    def remove(self, record_id: int) -> Record:
        """Hard-delete the record with `record_id`, wherever it is, and return it."""
        with self._lock:
            return self.records.pop(self._index(record_id))

    def on_request(self, number: int, action: Action) -> None:
        """Run `action(self)` once, just before /v1/billing request `number` gets its page."""
        with self._lock:
            if number <= self._received:
                raise ValueError(f"request {number} is not after the {self._received} received")
            self._actions.setdefault(number, []).append(action)

    def _handle_billing(self, params: dict[str, str]) -> _Reply:
        """Answer one /v1/billing request, applying latency, faults, actions and logging."""
        arrived = time.monotonic()
        fault, actions = self._take_fault(_non_negative_int(params.get("offset"), 0))
        time.sleep(self.latency_ms / 1000 + (fault.delay if fault and fault.kind == "delay" else 0))
        for action in actions:  # outside the lock: actions may mutate the sandbox
            action(self)
        reply = self._reply_for(params, fault)
        logged = {key: value for key, value in params.items() if key != "api_key"}
        with self._lock:
            self._log.append(RequestLog(API_PATH, logged, reply.status, arrived))
        return reply

    def _take_fault(self, offset: int | None) -> tuple[Fault | None, list[Action]]:
        """Count this request; use up its first matching fault and take its actions."""
        with self._lock:
            self._received += 1
            actions = self._actions.pop(self._received, [])
            for fault in self._faults:
                if fault.times > 0 and fault.matches(self._received, offset):
                    fault.times -= 1
                    return fault, actions
        return None, actions

    def _reply_for(self, params: dict[str, str], fault: Fault | None) -> _Reply:
        """Build the reply for a request, as changed by `fault` if any."""
        kind = fault.kind if fault else "none"
        if fault and kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return _json_reply(fault.status, {"error": f"injected status {fault.status}"}, headers)
        if kind == "drop":
            return _Reply(0, action="drop")
        if kind == "not_json":
            return _Reply(200, b"<html>oops</html>", content_type="text/html")
        reply = self._page_reply(params, omit={"no_data": "data", "no_total": "total"}.get(kind))
        reply.action = "truncate" if kind == "truncate" else "send"
        return reply

    def _page_reply(self, params: dict[str, str], omit: str | None) -> _Reply:
        """Check the key and paging parameters and build the page (or error) reply."""
        if params.get("api_key") != self.api_key:
            return _json_reply(401, {"error": "invalid api key"})
        offset = _non_negative_int(params.get("offset"), 0)
        limit = _non_negative_int(params.get("limit"), DEFAULT_LIMIT)
        if offset is None or limit is None or limit > MAX_LIMIT:
            error = f"offset and limit must be integers, offset >= 0, 0 <= limit <= {MAX_LIMIT}"
            return _json_reply(400, {"error": error})
        since = params.get("updated_since")
        try:
            instant = None if since is None else _parse_instant(since)
        except ValueError:
            error = f"updated_since must be an ISO-8601 UTC timestamp or date, got {since!r}"
            return _json_reply(400, {"error": error})
        with self._lock:  # one consistent snapshot, encoded before any change can land
            records = self.records if instant is None else self._updated_since(instant)
            page = records[offset : offset + limit]
            body = {"data": page, "total": len(records), "offset": offset, "limit": limit}
            if not self.include_total:
                del body["total"]
            if omit:
                body.pop(omit, None)
            return _Reply(200, self._encode(body))

    def _updated_since(self, instant: datetime) -> list[Record]:
        """List records updated at or after `instant`, by (updated_at, id) (hold the lock)."""
        records = self.records
        keyed = sorted((_parse_instant(r["updated_at"]), r["id"], i) for i, r in enumerate(records))
        return [records[index] for at, _, index in keyed if at >= instant]

    def _encode(self, body: dict[str, Any]) -> bytes:
        """Serialise a page body, writing amounts as raw JSON numbers if so configured."""
        if self.amount_as == "string" or "data" not in body:
            return json.dumps(body).encode()
        text = json.dumps({**body, "data": [_mark_amounts(record) for record in body["data"]]})
        return _MARKED_AMOUNT.sub(r"\1", text).encode()


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 transport for one connection to the sandbox."""

    protocol_version = "HTTP/1.1"
    timeout = 30.0  # idle keep-alive connections are closed after this many seconds
    # headers and body go out in two writes: with Nagle's algorithm on, the body waits for
    # the client's delayed ACK, 40 ms a page on Linux
    disable_nagle_algorithm = True

    def __init__(self, sandbox: SandboxAPI, *args: Any) -> None:
        """Remember the sandbox, then handle the connection."""
        self.sandbox = sandbox
        super().__init__(*args)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep quiet: no per-request logging to stderr."""

    def do_GET(self) -> None:
        """Serve /v1/billing, or 404 for any other path."""
        url = urlsplit(self.path)
        if url.path != API_PATH:
            self._send(_json_reply(404, {"error": f"no such path {url.path}"}))
            return
        self._send(self.sandbox._handle_billing(dict(parse_qsl(url.query, keep_blank_values=True))))

    def _not_allowed(self) -> None:
        """Answer 405 to any method but GET, then close the connection."""
        headers = {"Allow": "GET", "Connection": "close"}
        self._send(_json_reply(405, {"error": f"method {self.command} not allowed"}, headers))

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _not_allowed

    def _send(self, reply: _Reply) -> None:
        """Write a reply: whole, only half of the body, or nothing at all."""
        if reply.action == "drop":
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            half = len(reply.body) // 2
            self.wfile.write(reply.body[:half] if reply.action == "truncate" else reply.body)
        if reply.action == "truncate":
            self.close_connection = True


@contextlib.contextmanager
def running_sandbox(port: int = 0, **options: Any) -> Iterator[SandboxAPI]:
    """Serve a SandboxAPI(**options) on 127.0.0.1:`port` from a daemon thread, then stop."""
    sandbox = SandboxAPI(**options)
    server = ThreadingHTTPServer((HOST, port), partial(_Handler, sandbox))
    sandbox.url = f"http://{HOST}:{server.server_address[1]}"
    serve = partial(server.serve_forever, poll_interval=0.05)
    thread = threading.Thread(target=serve, name="billing-sandbox", daemon=True)
    thread.start()
    try:
        yield sandbox
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the sandbox from the command line until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=250, help="number of records")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the dataset")
    parser.add_argument("--api-key", default="sandbox-key", help="the accepted api_key")
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay of every request")
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    options = {"size": args.size, "seed": args.seed, "latency_ms": args.latency_ms}
    try:
        with running_sandbox(port=args.port, api_key=args.api_key, **options) as sandbox:
            about = f"{len(sandbox.records)} records, api key {sandbox.api_key}"
            print(f"Sandbox billing API on {sandbox.url} ({about})", flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

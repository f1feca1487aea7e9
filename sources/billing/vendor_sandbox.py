"""Local stand-ins for the vendors the bundled profiles describe: each vendor's auth, paging,
record wrapping, money representation and change filter, over a deterministic data set."""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import random
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .vendor_shapes import VENDORS, VendorResource

HOST = "127.0.0.1"
# ISO 4217 exponents of the currencies served, kept apart from the source's own table
EXPONENTS = {"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3, "GBP": 2}
CURRENCIES = tuple(EXPONENTS)
FIRST_CHANGE = datetime(2024, 1, 1, tzinfo=timezone.utc)
Record = dict[str, Any]


def _set(record: Record, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = record
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def _get(body: Any, path: str) -> Any:
    for key in path.split("."):
        body = body.get(key) if isinstance(body, dict) else None
    return body


def _major_sum(amounts: Iterable[tuple[int, str]]) -> Decimal:
    """The exact sum of (minor units, currency) pairs, each in its major unit."""
    return sum(
        (Decimal(minor).scaleb(-EXPONENTS[currency]) for minor, currency in amounts), Decimal(0)
    )


@dataclass
class _Row:
    """A record as served, and the minor units and currencies behind its money fields."""

    record: Record
    changed: datetime
    minor: dict[str, tuple[int, str]] = field(default_factory=dict)  # field: (minor, currency)
    line_minor: list[tuple[int, str]] = field(default_factory=list)


class VendorSandbox:
    """One vendor's API over a deterministic data set: `size` records per resource."""

    def __init__(self, vendor: str, size: int = 120, seed: int = 3, api_key: str = "vendor-key"):
        if vendor not in VENDORS:
            raise ValueError(f"no vendor sandbox {vendor!r}; there are {', '.join(VENDORS)}")
        self.vendor, self.shape, self.api_key = vendor, VENDORS[vendor], api_key
        self.url = ""  # set once the port is bound
        rng = random.Random(f"{vendor}:{seed}")
        self.rows = {
            res.path: [self._row(rng, res, n) for n in range(1, size + 1)]
            for res in self.shape.resources
        }
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._clock = FIRST_CHANGE + timedelta(minutes=size + 1)
        self._lock = threading.Lock()

    def _row(self, rng: random.Random, resource: VendorResource, number: int) -> _Row:
        shape = self.shape
        currency = rng.choice(CURRENCIES)
        changed = FIRST_CHANGE + timedelta(minutes=number, seconds=rng.randint(0, 59))
        record: Record = {
            shape.id_field: f"{resource.kind[:3]}_{number:06d}",
            shape.currency_field: currency.lower() if shape.lower_case_currency else currency,
            "status": rng.choice(("active", "paid", "open", "void")),
            **shape.extra,
        }
        if resource.kind != "customer":
            record["customer"] = f"cus_{rng.randint(1, max(1, number)):06d}"
        row = _Row(record, changed)
        self._stamp(row)
        for entry in resource.money:
            path, _, currency_field = entry.partition(":")
            if currency_field:
                record[currency_field] = currency
            minor = (
                rng.randint(-500, 10_000_000) if rng.random() < 0.05 else rng.randint(0, 10_000_000)
            )
            row.minor[path] = (minor, currency)
            _set(record, path, self._money(minor, currency))
        if resource.line_items:
            lines = []
            for index in range(rng.randint(1, 3)):
                line: Record = {"id": f"li_{number:06d}_{index}", "quantity": rng.randint(1, 5)}
                minor = rng.randint(1, 99_999)
                row.line_minor.append((minor, currency))
                _set(line, resource.line_money, self._money(minor, currency))
                lines.append(line)
            _set(record, resource.line_items, lines)
        return row

    def _money(self, minor: int, currency: str) -> Any:
        """An amount as this vendor writes it."""
        major = Decimal(minor).scaleb(-EXPONENTS[currency])
        return {
            "minor_int": minor,
            "minor_string": str(minor),
            "decimal_string": format(major, "f"),
            "float": float(major),  # few enough digits that the shortest repr is exact
        }[self.shape.money]

    def _stamp(self, row: _Row) -> None:
        moment = row.changed
        row.record[self.shape.changed_field] = (
            int(moment.timestamp())
            if self.shape.unix_time
            else moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        )

    def expected_total(self, path: str, money_field: str) -> Decimal:
        """The exact sum of a money field over the resource, in major units."""
        return _major_sum(row.minor[money_field] for row in self.rows[path])

    def expected_line_total(self, path: str) -> Decimal:
        """The exact sum of the line items' money field, in major units."""
        return _major_sum(pair for row in self.rows[path] for pair in row.line_minor)

    def line_items(self, path: str) -> int:
        steps = self.resource(path).line_items
        assert steps is not None
        return sum(len(_get(row.record, steps)) for row in self.rows[path])

    def resource(self, path: str) -> VendorResource:
        return next(resource for resource in self.shape.resources if resource.path == path)

    def change(self, path: str, index: int, **fields: Any) -> Record:
        """Sets fields on a record and moves its change time past every other one."""
        with self._lock:
            row = self.rows[path][index]
            row.record.update(fields)
            row.changed, self._clock = self._clock, self._clock + timedelta(minutes=1)
            self._stamp(row)
            return row.record

    # --- serving ---------------------------------------------------------------------------

    def answer(self, path: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((path, params))
            if path not in self.rows:
                return 404, {"error": f"no such path {path}"}
            if not self._authorized(headers.get("authorization", "")):
                return 401, {"error": "invalid api key"}
            for name, value in self.shape.headers.items():
                if headers.get(name.lower()) != value:
                    return 406, {"error": f"{name}: {value} is required"}
            rows = self._changed_since(self.rows[path], params)
            if rows is None:
                return 400, {"error": f"bad {self.shape.since_param}"}
            return 200, self._page(self.resource(path), rows, params)

    def _authorized(self, header: str) -> bool:
        if self.shape.auth == "bearer":
            return header == f"Bearer {self.api_key}"
        return header == "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode()

    def _changed_since(self, rows: list[_Row], params: dict[str, str]) -> list[_Row] | None:
        ordered = sorted(rows, key=lambda row: (row.changed, row.record[self.shape.id_field]))
        since = params.get(self.shape.since_param or "")
        if since is None:
            return ordered
        try:
            if self.shape.unix_time:
                bound = datetime.fromtimestamp(int(since), timezone.utc)
            else:
                bound = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            return None
        if self.shape.since_strict:
            return [row for row in ordered if row.changed > bound]
        return [row for row in ordered if row.changed >= bound]

    def _page(self, resource: VendorResource, rows: list[_Row], params: dict[str, str]) -> Any:
        shape = self.shape
        limit = int(params.get(shape.limit_param, "10"))
        token = params.get(shape.page_param)
        if shape.paging == "page_number":
            start = (int(token or "1") - 1) * limit
        elif shape.paging == "starting_after":
            ids = [row.record[shape.id_field] for row in rows]
            start = ids.index(token) + 1 if token in ids else 0
        else:
            start = int(base64.urlsafe_b64decode(token).decode()) if token else 0
        page = [row.record for row in rows[start : start + limit]]
        more = start + limit < len(rows)
        body: Record = {}
        if resource.records_at == "list":
            body["list"] = [{resource.kind: record} for record in page]
        else:
            _set(body, resource.records_at, page)
        if shape.has_more_at:
            _set(body, shape.has_more_at, more)
        if shape.paging == "page_number":
            pages = -(-len(rows) // limit)
            number = start // limit + 1
            body["meta"] = {
                "current_page": number,
                "next_page": number + 1 if more else None,
                "prev_page": number - 1 or None,
                "total_pages": pages,
                "total_count": len(rows),
            }
        elif shape.paging in ("cursor", "next_link"):
            self._next(body, resource, params, start + limit, more)
        return body

    def _next(
        self, body: Record, resource: VendorResource, params: dict[str, str], start: int, more: bool
    ) -> None:
        shape = self.shape
        token = base64.urlsafe_b64encode(str(start).encode()).decode()
        if shape.paging == "next_link":
            query = urlencode({**params, shape.page_param: token})
            token = f"{self.url if shape.absolute_links else ''}{resource.path}?{query}"
        if more or shape.token_when_done == "link":
            _set(body, shape.next_at, token)
        elif shape.token_when_done == "null":
            _set(body, shape.next_at, None)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def __init__(self, sandbox: VendorSandbox, *args: Any) -> None:
        self.sandbox = sandbox
        super().__init__(*args)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep quiet: no per-request logging to stderr."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, body = self.sandbox.answer(url.path, dict(parse_qsl(url.query)), headers)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@contextlib.contextmanager
def running_vendor_sandbox(vendor: str, port: int = 0, **options: Any) -> Iterator[VendorSandbox]:
    """Serves a VendorSandbox(vendor, **options) on 127.0.0.1:`port` from a daemon thread."""
    sandbox = VendorSandbox(vendor, **options)
    server = ThreadingHTTPServer((HOST, port), partial(_Handler, sandbox))
    sandbox.url = f"http://{HOST}:{server.server_address[1]}"
    thread = threading.Thread(target=partial(server.serve_forever, poll_interval=0.05), daemon=True)
    thread.start()
    try:
        yield sandbox
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main(argv: list[str] | None = None) -> int:
    """Serves one vendor's stand-in from the command line until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vendor", choices=sorted(VENDORS), required=True)
    parser.add_argument("--size", type=int, default=120, help="records per resource")
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--api-key", default="vendor-key", help="the accepted key")
    args = parser.parse_args(argv)
    with running_vendor_sandbox(
        args.vendor, port=args.port, size=args.size, api_key=args.api_key
    ) as api:
        paths = ", ".join(resource.path for resource in api.shape.resources)
        print(f"Sandbox {args.vendor} API on {api.url} ({paths}; key {api.api_key})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Names the resource and the page a request URL belongs to, for logs and error messages."""

import re
from dataclasses import dataclass
from re import Pattern
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class EndpointLabel:
    """How to recognise one resource's requests, and where its offset or page token travels."""

    resource: str
    path: str
    offset_param: str | None
    page_param: str | None = None  # of paging other than by offset

    @property
    def pattern(self) -> Pattern[str]:
        """The endpoint path as a regex; `{placeholders}` match one path segment."""
        parts = re.split(r"\{[^}]*\}", self.path.strip("/"))
        return re.compile("/" + "[^/]+".join(re.escape(part) for part in parts) + "$")


class RequestLabels:
    """Tells which resource and page a URL asks for, from the endpoint map's paths."""

    def __init__(self, endpoints: list[EndpointLabel]) -> None:
        self._endpoints: list[tuple[Pattern[str], EndpointLabel]] = [
            (endpoint.pattern, endpoint) for endpoint in endpoints
        ]

    def _find(self, url: str) -> EndpointLabel | None:
        path = urlsplit(url).path.rstrip("/")
        for pattern, endpoint in self._endpoints:
            if pattern.search(path):
                return endpoint
        return None

    def resource(self, url: str) -> str:
        """The resource name, or the URL path when no endpoint matches."""
        endpoint = self._find(url)
        return endpoint.resource if endpoint else urlsplit(url).path

    def page(self, url: str) -> str:
        """The page, as `offset N` where the resource pages by offset, or as its page token
        (`starting_after in_1Mtz`, `page 3`)."""
        endpoint = self._find(url)
        if endpoint is None:
            return "unknown page"
        query = parse_qs(urlsplit(url).query)
        if endpoint.offset_param is not None:
            values = query.get(endpoint.offset_param)
            return f"offset {values[0]}" if values else "offset 0"
        if endpoint.page_param is not None:
            values = query.get(endpoint.page_param)
            return f"{endpoint.page_param} {values[0]}" if values else "first page"
        return "single page"

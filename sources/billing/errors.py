"""Errors the billing source raises, each naming what failed and what to check."""

from requests import HTTPError, Response


class EndpointMapError(ValueError):
    """The endpoint map is not valid; raised before any request is made."""


class BillingAPIError(HTTPError):
    """The billing API answered a page request with an error status."""

    def __init__(self, message: str, response: Response) -> None:
        super().__init__(message, response=response)


class BillingConnectionError(ConnectionError):
    """A page request got no answer, after every retry."""


class BillingDataError(ValueError):
    """A page from the billing API is not what the endpoint map says it should be."""

    def __init__(self, resource: str, page: str, problem: str) -> None:
        super().__init__(f"{resource}, {page}: {problem}")
        self.resource = resource
        self.page = page

"""Keeps secrets out of log lines and error messages, by value rather than by parameter name."""

import logging
import threading
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from dlt.common import logger

MASK = "***"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# A shorter value cannot be a real API key, and masking it would garble ordinary words.
MIN_SECRET_LENGTH = 6


class SecretRedactor:
    """Replaces every registered secret, raw or URL-encoded, with `***`."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._installed = False

    def add(self, secret: str) -> None:
        """Registers a secret and the forms it takes in a URL."""
        if len(secret) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            self._secrets.update({secret, quote(secret, safe=""), quote_plus(secret)})

    def redact(self, text: str) -> str:
        """Returns `text` with every registered secret masked."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def install(self) -> None:
        """Masks secrets in every log record from now on, whichever logger writes it.

        urllib3 logs full URLs at DEBUG and dlt's REST client at INFO, masking only a fixed
        list of parameter names; a record factory reaches them all, and other libraries too.
        """
        with self._lock:
            if self._installed:
                return
            self._installed = True
        make_record = logging.getLogRecordFactory()

        def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a malformed call is reported by its handler, as usual
                return record
            redacted = self.redact(message)
            if redacted != message:
                record.msg, record.args = redacted, None
            return record

        logging.setLogRecordFactory(masked_record)


REDACTOR = SecretRedactor()


def protect_secret(secret: str) -> None:
    """Registers a secret and makes sure no log record can carry it."""
    REDACTOR.add(secret)
    REDACTOR.install()


def warn_if_key_travels_in_clear(base_url: str) -> None:
    """Warns when the API key would cross a network in a plain `http://` URL."""
    parts = urlsplit(base_url)
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        logger.warning(
            f"base_url {parts.scheme}://{parts.netloc} is plain http: the API key travels"
            " unencrypted in every request. Use https unless this host is on your own machine."
        )

"""Keeps secrets out of log lines and error messages, by value rather than by parameter name."""

import logging
import threading
from urllib.parse import quote, quote_plus

MASK = "***"

# Loggers that print request URLs, API key included: urllib3 at DEBUG, dlt's REST client at
# INFO (it masks a fixed list of parameter names only).
URL_LOGGERS = ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry", "dlt")


class SecretRedactor(logging.Filter):
    """Replaces every registered secret, raw or URL-encoded, with `***`."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        """Registers a secret and the forms it takes in a URL."""
        if not secret:
            return
        with self._lock:
            self._secrets.update({secret, quote(secret, safe=""), quote_plus(secret)})

    def redact(self, text: str) -> str:
        """Returns `text` with every registered secret masked."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Masks secrets in a log record's message before any handler formats it."""
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


REDACTOR = SecretRedactor()


def protect_secret(secret: str) -> None:
    """Registers a secret and makes sure every URL-logging logger masks it."""
    REDACTOR.add(secret)
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if REDACTOR not in logger.filters:
            logger.addFilter(REDACTOR)

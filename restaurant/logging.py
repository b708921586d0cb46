"""JSON log lines (SPEC §7): one object per line on stdout.

Use `service_logger("order-service").info("order_received", "...", details={...})`.
The request ID comes from a context variable set by the request middleware, or by the
relay, worker and subscriber for the message they are handling.

`LOG_FORMAT=console` (what `make run` uses) writes the same fields as one readable text line each
instead (`ConsoleFormatter`); JSON stays the default.
"""

import contextlib
import contextvars
import json
import logging
import socket
import traceback
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

HOSTNAME = socket.gethostname()
# The service named on lines that do not come through a ServiceLogger (Django's own, pika's):
# each command sets its own, and restaurant/asgi.py sets `kitchen-display` in a display process.
default_service = "order-service"


# SPEC §7 knows three levels: a library's WARNING is shown as INFO, CRITICAL as ERROR.
_LEVEL_NAMES = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "INFO", logging.ERROR: "ERROR"}


def json_value(value: Any) -> Any:
    """`json.dumps(default=...)` and `orjson.dumps(default=...)`: Decimal amounts as JSON numbers,
    datetimes as ISO 8601, else str."""
    if isinstance(value, Decimal):
        # float() of a 2-decimal amount below 10**13 prints back the same digits.
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


@contextlib.contextmanager
def request_id_bound(request_id: str | None):
    """Log lines inside the block carry `request_id` (a message's, so its order's trail stays whole)."""
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)


def new_request_id() -> str:
    return f"req-{uuid.uuid4().hex[:16]}"


class RequestIDFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = self.fields(record)
        try:
            return orjson.dumps(line, default=json_value, option=orjson.OPT_NON_STR_KEYS).decode()
        except orjson.JSONEncodeError:  # what orjson refuses (a lone surrogate, an int past 64 bits), json escapes
            return json.dumps(line, default=json_value)

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """The line's fields (SPEC §7)."""
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": _LEVEL_NAMES.get(record.levelno, "ERROR" if record.levelno > logging.ERROR else "INFO"),
            "service": getattr(record, "service", default_service),
            "action": getattr(record, "action", record.name),
            "message": record.getMessage(),
            "hostname": HOSTNAME,
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        details = getattr(record, "details", None)
        if details:
            line["details"] = details
        if record.levelno >= logging.ERROR:
            if record.exc_info:
                exc = record.exc_info[1]
                stack = "".join(traceback.format_exception(*record.exc_info))
                line["error"] = {"msg": f"{type(exc).__name__}: {exc}", "stack": stack}
            else:
                line["error"] = {"msg": record.getMessage(), "stack": record.stack_info or ""}
        return line


class ConsoleFormatter(JSONFormatter):
    """The JSON line's fields as text for a person at a terminal: time, level, service, action,
    message, then the request ID and details, and an ERROR's stack on the lines below.

    `12:00:01.250 INFO  kitchen-display  http_request  GET /kitchen/ 200  [req-1a2b] {"method": "GET"}`
    """

    def format(self, record: logging.LogRecord) -> str:
        line = self.fields(record)
        text = f"{line['timestamp'][11:23]} {line['level']:<5} {line['service']}  {line['action']}  {line['message']}"
        if line["request_id"]:
            text += f"  [{line['request_id']}]"
        if "details" in line:
            text += "  " + json.dumps(line["details"], default=json_value, ensure_ascii=False)
        if "error" in line and line["error"]["stack"]:
            text += "\n" + line["error"]["stack"].rstrip()
        return text


FORMATTERS = {"json": JSONFormatter, "console": ConsoleFormatter}


def formatter_path(log_format: str) -> str:
    """The dotted path of LOG_FORMAT's formatter (`json` or `console`), for a logging dictConfig."""
    if log_format not in FORMATTERS:
        raise ValueError(f"LOG_FORMAT: expected {' or '.join(FORMATTERS)}, got {log_format!r}")
    return f"{__name__}.{FORMATTERS[log_format].__name__}"


class ServiceLogger:
    """A logger bound to one service of SPEC §7 (or, with None, to the service of the running
    process, for code shared by several), taking an action name on every call."""

    def __init__(self, service: str | None) -> None:
        self.service = service
        self._logger = logging.getLogger(f"restaurant.{service or 'shared'}")

    def _log(self, level: int, action: str, message: str, details: dict | None, exc_info: Any) -> None:
        if self._logger.isEnabledFor(level):
            extra = {"service": self.service or default_service, "action": action, "details": details}
            # An ERROR line always carries a stack: the exception's, or where it was logged.
            stack_info = level >= logging.ERROR and not exc_info
            self._logger.log(level, message, extra=extra, exc_info=exc_info, stack_info=stack_info, stacklevel=3)

    def is_enabled_for(self, level: int) -> bool:
        """For a caller whose `details` cost something to build."""
        return self._logger.isEnabledFor(level)

    def debug(self, action: str, message: str, details: dict | None = None) -> None:
        self._log(logging.DEBUG, action, message, details, None)

    def info(self, action: str, message: str, details: dict | None = None) -> None:
        self._log(logging.INFO, action, message, details, None)

    def warning(self, action: str, message: str, details: dict | None = None) -> None:
        self._log(logging.WARNING, action, message, details, None)

    def error(self, action: str, message: str, details: dict | None = None, exc_info: Any = None) -> None:
        self._log(logging.ERROR, action, message, details, exc_info)


def service_logger(service: str | None = None) -> ServiceLogger:
    return ServiceLogger(service)


class JSONAccessLog:
    """Daphne's access log as SPEC §7 lines. Daphne's own (`AccessLogGenerator`) writes NCSA text
    lines straight to stdout, between our JSON ones; restaurant/asgi.py puts this one in its place."""

    def __init__(self, stream: Any = None) -> None:  # daphne passes the stream it would write to
        self._logger = logging.getLogger("daphne.access")

    def __call__(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        if protocol == "http" and action == "complete":
            message = f"{details.get('method')} {details.get('path')} {details.get('status')}"
            self._logger.info(message, extra={"action": "http_request", "details": details})
        elif protocol == "websocket" and action in {"connecting", "rejected", "connected", "disconnected"}:
            message = f"WebSocket {action} {details.get('path')}"
            self._logger.info(message, extra={"action": f"websocket_{action}", "details": details})

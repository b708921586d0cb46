"""JSON log lines (SPEC §7): one object per line on stdout.

Use `service_logger("order-service").info("order_received", "...", details={...})`.
The request ID comes from a context variable set by the request middleware, or by the
relay, worker and subscriber for the message they are handling.
"""

import contextvars
import json
import logging
import socket
import traceback
import uuid
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

HOSTNAME = socket.gethostname()
# The service named on lines that do not come through a ServiceLogger (Django's own, pika's).
default_service = "order-service"


def new_request_id() -> str:
    return f"req-{uuid.uuid4().hex[:16]}"


class RequestIDFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": "ERROR" if record.levelno >= logging.ERROR else record.levelname,
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
        return json.dumps(line, default=str, ensure_ascii=False)


class ServiceLogger:
    """A logger bound to one service of SPEC §7, taking an action name on every call."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._logger = logging.getLogger(f"restaurant.{service}")

    def _log(self, level: int, action: str, message: str, details: dict | None, exc_info: Any) -> None:
        if self._logger.isEnabledFor(level):
            extra = {"service": self.service, "action": action, "details": details}
            # An ERROR line always carries a stack: the exception's, or where it was logged.
            stack_info = level >= logging.ERROR and not exc_info
            self._logger.log(level, message, extra=extra, exc_info=exc_info, stack_info=stack_info, stacklevel=3)

    def debug(self, action: str, message: str, details: dict | None = None) -> None:
        self._log(logging.DEBUG, action, message, details, None)

    def info(self, action: str, message: str, details: dict | None = None) -> None:
        self._log(logging.INFO, action, message, details, None)

    def error(self, action: str, message: str, details: dict | None = None, exc_info: Any = None) -> None:
        self._log(logging.ERROR, action, message, details, exc_info)


def service_logger(service: str) -> ServiceLogger:
    return ServiceLogger(service)

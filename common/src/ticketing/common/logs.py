"""Logging, configured once per process: every line one JSON object (or readable, in make dev).

``configure_logging(service)`` is called by the composition root (``create_service_app``), the
client and the workers' entry points; a second call changes nothing. Everything logs through
the standard library (``logging.getLogger(...)``, uvicorn's loggers included: its error log
goes through; its access log is replaced by ``correlation``'s, which knows the route, duration
and request id) and one ``structlog`` pipeline renders it, so every line carries the same
fields: timestamp, level, service, logger, message, ``request_id``, ``trace_id`` and, inside an
event handler, ``event_id`` and ``event_type`` (bound as context variables by ``correlation``).

``LOG_FORMAT=json`` (the default) writes JSON lines for a collector; ``console`` (make dev)
writes them for a person. ``LOG_LEVEL`` (default INFO) is the root level.

**Nothing secret is written** (DESIGN §10): ``redact`` runs last before rendering, on every
line, and masks the value of any field named like a password, token, cookie, secret or
authorization, and anything in the text that looks like a session token (a JWT), a Stripe key
or webhook secret, a private key or ``password=...``.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal, TextIO

import structlog
from opentelemetry import trace
from pydantic_settings import BaseSettings, SettingsConfigDict
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[redacted]"
SECRET_FIELD = re.compile(
    r"pass(word|wd)?|token|cookie|secret|authori[sz]ation|api[_-]?key|private[_-]?key", re.I
)
SECRET_TEXT = (
    re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+"),  # a JWT (session tokens)
    re.compile(r"\b(sk|rk|pk)_(test|live)_\w+"),  # Stripe keys
    re.compile(r"\bwhsec_\w+"),  # Stripe webhook secrets
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
    re.compile(r"(?i)\bbearer\s+\S+"),
)
SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b(password|passwd|secret|token|cookie|authorization)(\W{0,3}[:=]\s*\W{0,2})[^\s\"',;&}]+"
)
CONTEXT_FIELDS = ("service", "request_id", "trace_id")
"""Present on every line (null when unknown), so a query never has to test for a key."""
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
CHATTY_LOGGERS = ("httpx",)
"""Libraries that log a line per call at INFO: httpx says "HTTP Request: GET …" for every
call the client makes, which the service called logs again in its access line, under the
same request id. Their warnings still come through."""


class LogSettings(BaseSettings):
    """``LOG_FORMAT`` and ``LOG_LEVEL``: one pair for every process (no service prefix)."""

    model_config = SettingsConfigDict(env_prefix="LOG_", extra="ignore", frozen=True)

    format: Literal["json", "console"] = "json"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


_SUSPECT = re.compile(
    r"eyJ|_test_|_live_|whsec_|PRIVATE KEY|bearer|passw|secret|token|cookie|authorization", re.I
)
"""What every secret above contains: a text without any of it is left as it is, after one
search instead of six substitutions (the access line is written on every request)."""


def _mask_text(text: str) -> str:
    if not _SUSPECT.search(text):
        return text
    for pattern in SECRET_TEXT:
        text = pattern.sub(REDACTED, text)
    return SECRET_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, Mapping):
        return {key: REDACTED if _secret_key(key) else _masked(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def _secret_key(key: object) -> bool:
    return isinstance(key, str) and key not in CONTEXT_FIELDS and bool(SECRET_FIELD.search(key))


def redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Mask secrets in every field of the line (structlog processor)."""
    for key, value in list(event_dict.items()):
        event_dict[key] = REDACTED if _secret_key(key) else _masked(value)
    return event_dict


def add_trace_id(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The current OpenTelemetry trace, so a line leads to its trace (and back)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
    return event_dict


class _ProcessDefaults:
    """The process's own service name, for lines logged outside any service's context."""

    service: str | None = None

    def __call__(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", self.service)
        for key in CONTEXT_FIELDS:
            event_dict.setdefault(key, None)
        return event_dict


_defaults = _ProcessDefaults()


def shared_processors() -> list[Processor]:
    """What every line goes through, from structlog or from the standard library."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_id,
        _defaults,
    ]


def formatter(log_format: Literal["json", "console"] = "json") -> logging.Formatter:
    """The formatter of our handler; tests attach it to their own handler to read lines."""
    renderer: Processor
    if log_format == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        tail: list[Processor] = []  # the console shows the message first, as its "event"
    else:
        renderer = structlog.processors.JSONRenderer()
        tail = [structlog.processors.dict_tracebacks, structlog.processors.EventRenamer("message")]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *tail,
            redact,
            renderer,
        ],
    )


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (pytest swaps it per test)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: object) -> None:
        pass


_HANDLER_MARK = "_ticketing_handler"


def _route_uvicorn_through_root() -> None:
    """uvicorn configures handlers of its own before our factory runs: its lines go through
    ours instead. ``correlation.ObservedHttp`` writes the access log, with the route template,
    duration and request id; uvicorn's would say the same line again with less."""
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def configure_logging(service: str | None = None, settings: LogSettings | None = None) -> None:
    """Route every logger of the process through one handler and formatter; idempotent.

    The first caller's ``service`` names lines logged outside any service's context."""
    if _defaults.service is None:
        _defaults.service = service
    _route_uvicorn_through_root()  # each time: a uvicorn started since may have added its own
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    root = logging.getLogger()
    if any(getattr(handler, _HANDLER_MARK, False) for handler in root.handlers):
        return
    settings = settings or LogSettings()
    handler = _StderrHandler()
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(formatter(settings.format))
    root.addHandler(handler)
    root.setLevel(settings.level)
    structlog.configure(
        processors=[*shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def bound_context() -> MutableMapping[str, Any]:
    """The correlation fields bound in this context (request id, service, event)."""
    return structlog.contextvars.get_contextvars()

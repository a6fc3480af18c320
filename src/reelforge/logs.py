"""Log setup for the server: every log record is redacted where it is made, whoever logs it.

A filter on our own handlers would miss the loggers that install their handlers later (uvicorn's
dictConfig; its access log even writes to stdout over HTTP) and records from libraries such as
httpx, whose INFO line prints each request URL with its signed query string. So the record
factory itself redacts: the message, each argument in place (uvicorn's access formatter unpacks
its five arguments, so their shape is kept), the joined line when a secret straddles the format
and an argument, and a traceback's text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from reelforge.redact import redact, remember_settings

#: Loggers whose formatters read `record.args` by position: their arguments are redacted in place
#: and never collapsed into the message.
_POSITIONAL_ARGS = ("uvicorn.access",)
_installed = False


def install_log_redaction(settings: Any = None, *, read_environment: bool = True) -> None:
    """Redact every log record from now on; remembers the secrets in `settings` (read from the
    environment when not given, unless `read_environment` is False: the stdio server reads its
    settings after the handshake and remembers them then). Safe to call more than once."""
    global _installed
    if settings is None and read_environment:
        try:
            from reelforge.settings import Settings

            settings = Settings()
        except Exception:  # invalid settings fail loudly where the server reads them, not here
            settings = None
    if settings is not None:
        remember_settings(settings)
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def redact_record(record: logging.LogRecord) -> None:
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_clean_arg(a) for a in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {k: _clean_arg(v) for k, v in record.args.items()}
    if record.args and not record.name.startswith(_POSITIONAL_ARGS):
        try:
            line = record.getMessage()
        except Exception:  # a malformed call: logging reports it itself when formatting
            line = None
        if line is not None and redact(line) != line:
            record.msg, record.args = redact(line), None
    if record.exc_info and not record.exc_text:
        # Formatters reuse `exc_text` when it is set, so the traceback is printed redacted.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))


def _clean_arg(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)  # httpx logs `httpx.URL` objects, not strings
    clean = redact(text)
    return value if clean == text else clean

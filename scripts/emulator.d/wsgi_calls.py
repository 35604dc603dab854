"""Small WSGI helpers: read a request body once, call an app in process, answer simply."""

from __future__ import annotations

import io
from typing import Any, Callable, Iterable

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def read_body(environ: dict) -> bytes:
    """Read the whole request body and put it back, so the next reader sees it too."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    if length > 0:
        body = stream.read(length)
    elif environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get(
        "wsgi.input_terminated"
    ):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return body


class CapturedResponse:
    """What an in-process WSGI call answered."""

    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def status_code(self) -> int:
        """The numeric HTTP status."""
        return int(self.status.split(" ", 1)[0])

    def header(self, name: str) -> str | None:
        """The first header called `name` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


def call_app(app: WsgiApp, environ: dict) -> CapturedResponse:
    """Run `app` on `environ` in this thread and collect its whole answer."""
    captured: dict[str, Any] = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = list(headers)
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return CapturedResponse(captured["status"], captured["headers"], body)


def respond(
    start_response: Callable,
    status: str,
    body: bytes,
    content_type: str | None,
    extra_headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    """Answer with a complete body (no Content-Type header when `content_type` is None)."""
    headers = [("Content-Length", str(len(body)))]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    headers.extend(extra_headers or [])
    start_response(status, headers)
    return [body]

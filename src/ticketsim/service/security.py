"""Service hardening as small ASGI middlewares and one dependency.

- :class:`BodyLimit`: refuses bodies over ``serve.max_body_bytes`` with 413, by the
  Content-Length header and by counting a streamed body as it arrives.
- :class:`Timeout`: answers 504 when a request runs past ``serve.timeout_seconds``
  (the thread doing the work cannot be killed; a write may still complete, but it
  was never acknowledged).
- :class:`SecurityHeaders`: nosniff, no framing, and a strict CSP on the web page.
- :func:`api_key_dependency`: the API key from the environment, compared in
  constant time with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import h11
from fastapi import HTTPException, Request

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]


def json_body(status: int, error: str, hint: str | None = None) -> tuple[int, bytes]:
    body = {"error": error, "field": None, "hint": hint}
    return status, json.dumps(body).encode()


async def send_json(send: Callable[..., Any], status: int, error: str, hint: str | None = None) -> None:
    status, body = json_body(status, error, hint)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes the limit."""


class BodyLimit:
    """413 for request bodies larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = f"request body larger than {self.max_bytes} bytes"
        hint = "send fewer tickets per request, or raise serve.max_body_bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await send_json(send, 400, "invalid Content-Length header")
                    return
                if declared > self.max_bytes:
                    await send_json(send, 413, too_big, hint)
                    return
        seen = 0
        over = False

        async def counted() -> dict[str, Any]:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    raise BodyTooLarge
            return message

        async def tracked(message: dict[str, Any]) -> None:
            if not over:  # once over the limit, the app's own answer (a parse error) is dropped
                await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counted, tracked)
        if over:
            await send_json(send, 413, too_big, hint)


class Timeout:
    """504 for requests running longer than ``seconds``."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = float(seconds)

    async def __call__(self, scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, receive, tracked), self.seconds)
        except TimeoutError:
            if not started:
                await send_json(send, 504, f"request took longer than {self.seconds:g} s",
                                "retry later, or ask for fewer results")


PAGE_CSP = (b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class SecurityHeaders:
    """nosniff and no framing on every response; a strict Content-Security-Policy on our own page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page = scope.get("path", "") == "/" or scope.get("path", "").startswith("/static/")

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                            (b"referrer-policy", b"no-referrer")]
                if page:
                    headers.append((b"content-security-policy", PAGE_CSP))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, wrapped)


def presented_key(request: Request) -> str | None:
    """The key from ``X-API-Key`` or ``Authorization: Bearer``."""
    key = request.headers.get("x-api-key")
    if key is None:
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
    return key


def api_key_dependency(expected: str | None) -> Callable[[Request], None]:
    """A FastAPI dependency enforcing ``expected`` (None: no key configured, everyone is let in)."""
    want = expected.encode() if expected else None

    def check(request: Request) -> None:
        if want is None:
            return
        got = presented_key(request)
        # compare_digest runs in time independent of where the strings differ
        if got is None or not hmac.compare_digest(got.encode("utf-8", "replace"), want):
            raise HTTPException(status_code=401, detail="missing or wrong API key",
                                headers={"WWW-Authenticate": "Bearer"})

    return check


SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class SameOrigin:
    """403 for state-changing requests a browser sends from a page of another origin.

    Without an API key any web page a user visits could otherwise POST /reload or
    DELETE /tickets/... to a service on their machine (a form or fetch needs no CORS
    permission to *send*). A request passes when it carries no ``Origin`` (not from a
    browser page, e.g. curl or a server) and no cross-site ``Sec-Fetch-Site``; when its
    origin is in ``serve.cors_origins``; or when the origin's host is the request's
    ``Host`` (or ``X-Forwarded-Host``, behind a proxy).
    """

    def __init__(self, app: ASGIApp, allowed: list[str] | tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed = {o.rstrip("/") for o in allowed}

    def _same(self, headers: dict[bytes, bytes]) -> bool:
        origin = headers.get(b"origin")
        site = headers.get(b"sec-fetch-site", b"")
        if origin is None:
            return site not in (b"cross-site", b"same-site")
        text = origin.decode("latin-1").rstrip("/")
        if text in self.allowed:
            return True
        netloc = urlsplit(text).netloc.lower()
        hosts = {headers.get(b"host", b"").decode("latin-1").lower(),
                 headers.get(b"x-forwarded-host", b"").decode("latin-1").split(",")[0].strip().lower()}
        return bool(netloc) and netloc in hosts

    async def __call__(self, scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "http" and scope.get("method", "GET") not in SAFE_METHODS:
            headers = dict(scope.get("headers", []))
            if not self._same(headers):
                await send_json(send, 403, "cross-origin request refused",
                                "a page of another origin cannot change this service; list the "
                                "origin in serve.cors_origins if it should")
                return
        await self.app(scope, receive, send)


def http_protocol() -> type:
    """uvicorn's h11 protocol with two fixes for ``ticketsim serve``.

    - Requests uvicorn itself rejects (a bad Content-Length, malformed headers) are
      answered with the service's JSON error body instead of uvicorn's text/plain.
    - The idle clock (``serve.keep_alive_seconds``, uvicorn's ``timeout_keep_alive``)
      also runs before the first request and while a request's head is incomplete;
      uvicorn starts it only after a response, so a connection that never sent a full
      request stayed open forever.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class JsonH11Protocol(H11Protocol):
        def _start_idle_clock(self) -> None:
            if (self.timeout_keep_alive_task is None and not self.transport.is_closing()
                    and (self.cycle is None or self.cycle.response_complete)):
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.timeout_keep_alive, self.timeout_keep_alive_handler)

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._start_idle_clock()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._start_idle_clock()

        def send_400_response(self, msg: str) -> None:
            _, body = json_body(400, f"invalid HTTP request: {msg.rstrip('.')}",
                                "check the request line, headers and Content-Length")
            headers = [(b"content-type", b"application/json"), (b"connection", b"close"),
                       (b"content-length", str(len(body)).encode())]
            try:
                self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers,
                                                                 reason=b"Bad Request")))
                self.transport.write(self.conn.send(h11.Data(data=body)))
                self.transport.write(self.conn.send(h11.EndOfMessage()))
            except h11.LocalProtocolError:  # the connection is past the point of answering
                pass
            self.transport.close()

    return JsonH11Protocol

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

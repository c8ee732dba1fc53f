"""The edge of the service: what every request must be before any route sees it.

One pure ASGI middleware, outermost of the app's own, so that every route — documented,
lean (:mod:`api.hotpath`) or added later — gets the same rules by construction:

* **headers**: more than ``max_headers`` header fields, or more than
  ``max_header_bytes`` of them, is ``431 headers_too_large``;
* **text in the path and query**: NUL or another control character (after
  percent-decoding) is ``422 control_character`` naming the parameter (``path`` for
  the path); bodies are checked by :class:`api.schemas.Input`;
* **headers of every HTML page** (rider, console, maps, docs): a Content-Security-Policy
  (the page's own when it sets one, else :data:`DEFAULT_CSP`), ``X-Frame-Options``,
  ``Referrer-Policy``; ``X-Content-Type-Options: nosniff`` on every answer;
* **body size**: a body larger than the path's limit is ``413 body_too_large`` with
  the limit in bytes. A declared ``Content-Length`` over the limit is refused before a
  byte of the body is read; a body that arrives chunked, or longer than it declared,
  is counted while it streams in and refused as soon as it passes the limit, so no
  more than the limit is ever held in memory.

Answers are the app's problem JSON (``{"detail", "code", **facts}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.exceptions import HTTPException

from stations import plaintext
from stations.settings import ApiSettings

Scope = dict[str, Any]

# Pages that set no policy of their own (folium maps: inline scripts and styles) get
# this one; same-origin framing stays possible (a console page may show a map).
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:{tiles}; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'; "
    "form-action 'self'"
)


class BodyTooLarge(HTTPException):
    """The body passed its path's limit while it streamed in (413)."""

    code = "body_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, body_too_large_detail(limit))
        self.facts = {"limit_bytes": limit}


def body_too_large_detail(limit: int) -> str:
    return (
        f"body: larger than this endpoint's limit of {limit:,} bytes; send less "
        "(split a batch into several requests)"
    )


class Guard:
    """The ASGI middleware applying the edge rules (see the module's docstring)."""

    def __init__(
        self,
        app: Any,
        *,
        settings: ApiSettings,
        tiles_source: str = "",
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        # paths whose bodies may be larger (nearest:batch, the console's uploads)
        self.body_limits: Mapping[str, int] = {**settings.body_limits(), **(body_limits or {})}
        self.html_headers = html_headers(tiles_source)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refuse_headers(scope) or _refuse_text(scope)
        limit = self.body_limits.get(scope["path"], self.settings.max_body_bytes)
        if refusal is None:
            declared = _content_length(scope)
            if declared is not None and declared > limit:
                refusal = (
                    413,
                    "body_too_large",
                    body_too_large_detail(limit),
                    {"limit_bytes": limit},
                )
        if refusal is not None:
            await _answer(send, *refusal)
            return
        await self.app(scope, _capped(receive, limit), _headed(send, self.html_headers))

    def _refuse_headers(self, scope: Scope) -> tuple[int, str, str, dict[str, Any]] | None:
        headers = scope["headers"]
        size = sum(len(name) + len(value) + 4 for name, value in headers)
        if len(headers) > self.settings.max_headers or size > self.settings.max_header_bytes:
            return (
                431,
                "headers_too_large",
                f"headers: {len(headers)} fields, {size:,} bytes; at most "
                f"{self.settings.max_headers} fields and {self.settings.max_header_bytes:,} "
                "bytes are read",
                {
                    "max_headers": self.settings.max_headers,
                    "max_header_bytes": self.settings.max_header_bytes,
                },
            )
        return None


def _refuse_text(scope: Scope) -> tuple[int, str, str, dict[str, Any]] | None:
    """A control character in the path or a query parameter (name or value)."""
    fields: list[tuple[str, str]] = [("path", scope["path"])]
    raw = scope.get("query_string", b"")
    if raw:
        for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            shown = name if plaintext.control_character(name) is None else "query"
            fields.append((shown, name))
            fields.append((shown, value))
    for field, text in fields:
        char = plaintext.control_character(text)
        if char is not None:
            return (
                422,
                plaintext.CODE,
                plaintext.message(field, char),
                {"field": field, "character": char},
            )
    return None


def html_headers(tiles_source: str) -> list[tuple[bytes, bytes]]:
    """The headers every HTML page gets unless it set them itself."""
    csp = DEFAULT_CSP.format(tiles=f" {tiles_source}" if tiles_source else "")
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-frame-options", b"SAMEORIGIN"),
        (b"referrer-policy", b"no-referrer"),
    ]


_NOSNIFF = (b"x-content-type-options", b"nosniff")


def _headed(send: Any, for_html: list[tuple[bytes, bytes]]) -> Any:
    """``send`` adding the security headers to the start of the response."""

    async def headed(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            names = {name.lower() for name, _ in headers}
            extra = [] if _NOSNIFF[0] in names else [_NOSNIFF]
            html = any(
                name.lower() == b"content-type" and value.startswith(b"text/html")
                for name, value in headers
            )
            if html:
                extra += [(name, value) for name, value in for_html if name not in names]
            if extra:
                message = {**message, "headers": headers + extra}
        await send(message)

    return headed


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser refuses such a request before it gets here
    return None


def _capped(receive: Any, limit: int) -> Any:
    """``receive`` counting body bytes: past ``limit`` it raises :class:`BodyTooLarge`.

    The exception is an HTTPException, which FastAPI's body reading lets through and the
    app's handler answers as ``413 body_too_large``.
    """
    received = 0

    async def capped() -> dict[str, Any]:
        nonlocal received
        message: dict[str, Any] = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return capped


async def _answer(send: Any, status: int, code: str, detail: str, facts: dict[str, Any]) -> None:
    body = orjson.dumps({"detail": detail, "code": code, **facts})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

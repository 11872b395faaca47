"""The web app of ``ganzoo serve``: one hand-written page, its script and style, and a JSON/PNG API.

::

    GET /                                      the page (static/page.html)
    GET /static/page.js, /static/page.css      its script and style (a fixed list, no file lookup)
    GET /api/generators                        the catalogue and the server's limits, as JSON
    GET /api/generators/{id}/grid.png          ?seed=&num=&class=&truncation=
    GET /api/generators/{id}/walk.png          ?seed=&to_seed=&steps=&mode=&class=&truncation=

Every error is JSON ``{"error": "<one line>"}``: 400 a bad parameter, 404 an unknown id or path,
422 a generator that cannot make the picture (a damaged file, NaN images), 429 the rate limit,
503 a full queue. The Content-Security-Policy allows nothing but this server, so the page works
offline by construction: a CDN script or a web font could not load even if one slipped in.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ganzoo.errors import ConfigError, GanzooError, first_line
from ganzoo.serve.catalogue import Catalogue, GeneratorEntry, UnknownGeneratorError
from ganzoo.serve.rendering import grid_png, walk_png
from ganzoo.serve.requests import MAX_SAMPLES, MAX_WALK_STEPS, GridQuery, Query, WalkQuery, parse_query, resolve_class
from ganzoo.serve.worker import Busy, RateLimited, SampleRate, SampleWorker

STATIC_FILES = {"page.html": "text/html; charset=utf-8", "page.js": "text/javascript; charset=utf-8",
                "page.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
                                 b"connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


@dataclass(frozen=True)
class ServeSettings:
    """The server's limits. ``allowed_hosts``: the Host names it answers (``None``: any), which
    keeps a web page elsewhere from reaching a loopback server through DNS rebinding."""

    samples_per_second: float = 2.0 * MAX_SAMPLES
    burst: int = 2 * MAX_SAMPLES
    """Room for two of the largest grids at once: the page's side-by-side view."""
    workers: int = 2
    max_pending: int = 8
    allowed_hosts: tuple[str, ...] | None = None


def create_app(catalogue: Catalogue, settings: ServeSettings = ServeSettings()) -> Starlette:
    """The app serving ``catalogue``: only its generators, only by their ids."""
    rate = SampleRate(settings.samples_per_second, max(settings.burst, MAX_SAMPLES))  # the largest grid fits
    worker = SampleWorker(settings.workers, settings.max_pending)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        worker.close()

    async def generators(request: Request) -> Response:
        limits = {"max_samples": MAX_SAMPLES, "max_walk_steps": MAX_WALK_STEPS,
                  "samples_per_second": settings.samples_per_second}
        return JSONResponse({"generators": [entry.to_json() for entry in catalogue], "limits": limits},
                            headers={"cache-control": "no-store"})

    async def grid(request: Request) -> Response:
        entry, query, label = _validated(catalogue, request, GridQuery)
        rate.take(query.num)
        png = await worker.run(partial(grid_png, entry.generator, entry.path, num=query.num, seed=query.seed,
                                       label=label, truncation=query.truncation))
        return _png(png)

    async def walk(request: Request) -> Response:
        entry, query, label = _validated(catalogue, request, WalkQuery)
        rate.take(query.steps)
        png = await worker.run(partial(walk_png, entry.generator, entry.path, seed=query.seed, to_seed=query.to_seed,
                                       steps=query.steps, mode=query.mode, label=label, truncation=query.truncation))
        return _png(png)

    routes = [Route("/", _static_file("page.html")),
              *[Route(f"/static/{name}", _static_file(name)) for name in STATIC_FILES if name != "page.html"],
              Route("/api/generators", generators),
              Route("/api/generators/{generator_id}/grid.png", grid),
              Route("/api/generators/{generator_id}/walk.png", walk)]
    middleware = [Middleware(SecurityHeaders)]
    if settings.allowed_hosts is not None:
        middleware.append(Middleware(AllowedHosts, names=settings.allowed_hosts))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan, exception_handlers=EXCEPTION_HANDLERS)
    app.state.worker = worker
    return app


def _validated(catalogue: Catalogue, request: Request, model: type[Query]) -> tuple[GeneratorEntry, Query, int | None]:
    """The generator the request names, its parameters and its class index, or the one-line error."""
    entry = catalogue.get(request.path_params["generator_id"])
    if entry.generator is None:
        raise GeneratorUnusable(entry.error or "this generator could not be loaded")
    query = parse_query(model, request.query_params.multi_items())
    return entry, query, resolve_class(query.class_, entry.class_names)


class GeneratorUnusable(GanzooError):
    """A listed generator whose file failed to load: its error line, as HTTP 422."""


def _png(data: bytes) -> Response:
    return Response(data, media_type="image/png", headers={"cache-control": "private, max-age=3600"})


def _static_file(name: str) -> Callable[[Request], Any]:
    """A handler for one fixed file of the package: no request part ever becomes a path."""
    body = resources.files("ganzoo.serve").joinpath("static", name).read_bytes()

    async def handler(request: Request) -> Response:
        return Response(body, media_type=STATIC_FILES[name], headers={"cache-control": "no-cache"})

    return handler


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


class AllowedHosts:
    """Refuses, as one JSON line, a request whose ``Host`` header names another server."""

    def __init__(self, app: ASGIApp, names: tuple[str, ...]) -> None:
        self.app, self.names = app, {name.lower() for name in names}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
            if _host_name(host) not in self.names:
                shown = host if len(host) <= 60 else host[:60] + "..."
                await _error(400, f"this server answers only to {', '.join(sorted(self.names))}, not the Host "
                                  f"{shown!r}; open it as http://127.0.0.1:PORT/")(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    """``127.0.0.1:8765`` -> ``127.0.0.1``, ``[::1]:8765`` -> ``::1``, ``localhost`` -> ``localhost``."""
    if host.startswith("[") and "]" in host:
        return host[1:host.index("]")]
    return host.rpartition(":")[0] or host


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"cache-control": "no-store", **(headers or {})})


async def _on_ganzoo_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, RateLimited):
        return _error(429, str(exc), {"retry-after": str(max(1, round(exc.retry_after + 0.5)))})
    status = {ConfigError: 400, UnknownGeneratorError: 404, Busy: 503}
    code = next((code for kind, code in status.items() if isinstance(exc, kind)), 422)
    return _error(code, str(exc))


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "no such page or endpoint; GET /api/generators lists what this server has",
               405: "only GET is served here"}.get(exc.status_code, str(exc.detail))
    return _error(exc.status_code, message)


async def _on_internal_error(request: Request, exc: Exception) -> Response:
    return _error(500, f"internal error: {type(exc).__name__}: {first_line(exc)}; the server's console has the details")


EXCEPTION_HANDLERS: dict[Any, Any] = {GanzooError: _on_ganzoo_error, HTTPException: _on_http_error,
                                      Exception: _on_internal_error}

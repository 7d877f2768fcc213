"""The web application: ``create_app(settings)`` → FastAPI (server-rendered pages + ``/api/v1``).

Every response carries a Content-Security-Policy that allows nothing but this server; the pages load
nothing from third parties and set no cookie for anonymous visitors (the language is in the URL).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from souverain import __version__
from souverain.net import NetConfig
from souverain.store import Store
from souverain.web.data import Observatory
from souverain.web.render import Renderer
from souverain.web.scans import ScanQueue, scan_config
from souverain.web.security import Csrf, RateLimiter

__all__ = ["WebSettings", "create_app", "error_body"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
ERROR_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "too-large",
    422: "invalid-request",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}


@dataclass(slots=True)
class WebSettings:
    """How ``souverain serve`` runs (see docs/web.md)."""

    store: Path | str
    """The store's file, or its SQLAlchemy URL."""
    home: Path
    lab_dir: Path | None = None
    """Lab mode: on-demand scans use the lab's resolver and CA, and loopback targets are allowed."""
    resolver: str | None = None
    ca_file: str | None = None
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    """Signs operator sessions and form tokens; set SOUVERAIN_SECRET to keep sessions across restarts."""
    https: bool = False
    """Mark the session cookie Secure (behind an HTTPS reverse proxy)."""
    procurement: Path | None = None
    """Ingested DECP database shown on /procurement (default: ``home/procurement.duckdb`` when it exists)."""
    api_per_minute: int = 600
    """Anonymous API requests per minute and client address."""
    corrections_per_minute: int = 5
    """Correction submissions per minute and client address."""
    scan_queue: int = 20

    @property
    def lab(self) -> bool:
        return self.lab_dir is not None

    def net_config(self) -> NetConfig:
        from souverain.scan.run import net_config_from

        return net_config_from(
            scan_config(lab_dir=self.lab_dir, resolver=self.resolver, ca_file=self.ca_file)
        )


def error_body(status: int, message: str, details: Any = None, code: str | None = None) -> dict[str, Any]:
    """The one error shape of the API."""
    return {
        "error": {
            "status": status,
            "code": code or ERROR_CODES.get(status, "error"),
            "message": message,
            "details": details,
        }
    }


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(settings: WebSettings, store: Store | None = None) -> FastAPI:
    """The web application over ``settings.store`` (or the already open ``store``: `serve` opened it to build
    the web index)."""
    from souverain.web import api, pages

    app = FastAPI(
        title="souverain API",
        version=__version__,
        description="Observatory of digital sovereignty and security for public bodies. "
        'Every error has the shape {"error": {status, code, message, details}}.',
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the stock docs pages load scripts from a CDN: not served
        redoc_url=None,
    )
    store = store or Store(settings.store)
    app.state.settings = settings
    app.state.store = store
    app.state.obs = Observatory(store, settings.home)
    app.state.renderer = Renderer()
    app.state.csrf = Csrf(settings.secret)
    app.state.limiter = RateLimiter()
    app.state.scans = ScanQueue(
        store.url,
        settings.home,
        scan_config(lab_dir=settings.lab_dir, resolver=settings.resolver, ca_file=settings.ca_file),
        settings.scan_queue,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret,
        session_cookie="souverain_operator",
        max_age=8 * 3600,
        same_site="lax",
        https_only=settings.https,
    )

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if _is_api(request):
            detail: Any = exc.detail
            if isinstance(detail, dict) and "message" in detail:
                message, details = str(detail["message"]), detail.get("details")
            elif isinstance(detail, str):
                message, details = detail, None
            else:
                message, details = ERROR_CODES.get(exc.status_code, "error"), detail
            return JSONResponse(
                error_body(exc.status_code, message, details), exc.status_code, headers=headers
            )
        text = exc.detail.get("message", "") if isinstance(exc.detail, dict) else str(exc.detail)
        text = pages.http_phrase(request, exc.status_code, text)
        return HTMLResponse(
            pages.error_page(request, exc.status_code, text), exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        details = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        message = "; ".join(f"{d['where']}: {d['problem']}" for d in details) or "invalid request"
        if _is_api(request):
            return JSONResponse(error_body(422, message, details), 422)
        return HTMLResponse(
            pages.error_page(request, 422, pages.validation_message(request, exc.errors())), 422
        )

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        message = f"internal error (a bug in souverain): {type(exc).__name__}"
        if _is_api(request):
            return JSONResponse(error_body(500, message), 500)
        return HTMLResponse(pages.error_page(request, 500, message), 500)

    app.include_router(api.router)
    static = Path(__file__).resolve().parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")
    app.include_router(pages.router)
    app.include_router(pages.router, prefix="/en")
    return app

"""Application factory for the touchscreen (and, with a simulator, the demo control panel)."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from kiosk.gate import Gate
from kiosk.guard_desk import GuardDesk
from kiosk.ledger import LedgerError
from kiosk.secret import load_or_create_secret
from kiosk.web.api import api
from kiosk.web.demo import demo
from kiosk.web.guard import guard

MAX_BODY_BYTES = 4096
log = logging.getLogger(__name__)

# Chinese-first words for the errors Werkzeug raises with its own English text.
GENERIC = {
    400: "请求有误，请重试 (bad request)",
    401: "门卫屏已锁定，请输入 PIN 解锁 (locked)",
    403: "无权操作，请重新登录 (forbidden)",
    404: "找不到该地址 (not found)",
    405: "不支持该操作 (method not allowed)",
    413: "内容太长，请缩短后重试 (request too large)",
    415: "请求格式不对 (send the body as application/json)",
    500: "内部错误，请重试；如仍出错请联系物业 (internal error)",
}


def chinese_message(exc: HTTPException) -> str:
    """The kiosk's own (Chinese-first) description, or Chinese words for Werkzeug's default."""
    default = type(exc).description
    if exc.description and exc.description != default:
        return exc.description
    return GENERIC.get(exc.code or 500, GENERIC[500])


LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")


def foreign_request(host: str, origin: str | None, method: str) -> str | None:
    """Why a request is not the kiosk's own, or None. ``host``: the Host header as sent; the
    kiosk answers to an address (an IP literal) or ``localhost``, never to a domain name; an
    ``Origin`` (sent by browsers on every request that changes something) must be this host."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if name not in LOCAL_NAMES and not _ip_literal(name):
        return f"Host {host!r} is not an address of this kiosk"
    if origin is not None and origin != "null" and origin.split("://", 1)[-1] != host:
        return f"Origin {origin!r} is not this kiosk ({host})"
    if origin == "null" and method not in ("GET", "HEAD"):
        return "an opaque origin"
    return None


def _ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def create_app(gate: Gate, test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SECRET_KEY=load_or_create_secret(gate.config.data_dir / "secret_key"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="menwei_guard",
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["gate"] = gate
    app.extensions["guard_desk"] = GuardDesk(gate)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    app.register_blueprint(api)
    app.register_blueprint(guard)
    if gate.hardware.simulator is not None:
        app.register_blueprint(demo)

    @app.before_request
    def same_origin_only() -> Any:
        # The touchscreen's pages and API answer only under the kiosk's own address: a Host
        # that is a domain name (DNS rebinding: evil.example pointing at 127.0.0.1), or a
        # request that another origin's page sent, is refused before anything runs.
        problem = foreign_request(request.host, request.headers.get("Origin"), request.method)
        if problem:
            log.warning("refused %s %s: %s", request.method, request.path, problem)
            return jsonify(error="Forbidden", message="拒绝访问：只接受本机门岗屏幕的请求"), 403
        return None

    @app.get("/")
    def touchscreen() -> str:
        return render_template(
            "kiosk.html",
            language=gate.config.kiosk.language,
            identify=gate.config.kiosk.identify,
            kiosk_id=gate.config.kiosk.id,
            demo=gate.hardware.simulator is not None,
        )

    @app.get("/privacy")
    def privacy() -> str:
        return render_template(
            "privacy.html",
            retention_days=gate.config.kiosk.retention_days,
            store_temperatures=gate.config.kiosk.store_temperatures,
            idle_return_s=gate.config.kiosk.idle_return_s,
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        # One handler: JSON on API paths, a plain page elsewhere (as Datasette does). Werkzeug's
        # own English descriptions are replaced by Chinese-first ones.
        if request.path.startswith("/api/"):
            return jsonify(error=exc.name, message=chinese_message(exc)), exc.code
        return exc

    @app.errorhandler(LedgerError)
    def not_recorded(exc: LedgerError) -> Any:
        # Nothing was stored and nobody was let in; the guard must know at once.
        log.error("not recorded: %s", exc)
        return jsonify(
            error="Not Recorded", message=f"无法记录，未放行，请联系物业 (cannot record: {exc})"
        ), 503

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Any:
        log.exception("request failed: %s", request.path)
        if request.path.startswith("/api/"):
            return jsonify(error="Internal Server Error", message=GENERIC[500]), 500
        return InternalServerError()

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
            " connect-src 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app

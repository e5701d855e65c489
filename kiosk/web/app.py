"""Application factory for the touchscreen (and, with a simulator, the demo control panel)."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from kiosk.gate import Gate
from kiosk.guard_desk import GuardDesk
from kiosk.ledger import LedgerError
from kiosk.secret import load_or_create_secret
from kiosk.web.api import api
from kiosk.web.demo import demo
from kiosk.web.guard import guard

MAX_BODY_BYTES = 4096


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
        # One handler: JSON on API paths, a plain page elsewhere (as Datasette does).
        if request.path.startswith("/api/"):
            return jsonify(error=exc.name, message=exc.description), exc.code
        return exc

    @app.errorhandler(LedgerError)
    def not_recorded(exc: LedgerError) -> Any:
        # Nothing was stored and nobody was let in; the guard must know at once.
        return jsonify(error="Not Recorded", message=f"cannot record: {exc}"), 503

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

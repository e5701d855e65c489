"""The hub's HTTP API (``/api/v1``): enrolment, ingest, checkpoint, roster, readers."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    RequestEntityTooLarge,
    TooManyRequests,
    Unauthorized,
)

from sync.contract import visitor_id_key
from sync.hub import (  # noqa: F401  (their routes join the admins' blueprint)
    compounds,
    district_web,
    duty_web,
    jobs_web,
    register_web,
)
from sync.hub.admin_web import admin, current_user, page_user
from sync.hub.admins import audit
from sync.hub.error_pages import error_page
from sync.hub.jobs import JobRunner
from sync.hub.openapi import openapi_document
from sync.hub.settings_version import record_report, reported_version, version_at
from sync.hub.store import CompoundError, HubStore, KioskAuth
from sync.localtime import DEFAULT_ZONE, zone
from sync.protocol import (
    MAX_BATCH_RECORDS,
    MAX_BODY_BYTES,
    BadBody,
    bad_text,
    field_problem,
    parse_body,
)

api = Blueprint("hub_api", __name__, url_prefix="/api/v1")
RETRY_AFTER_S = 2
MAX_HELD_IDS = 1000
MAX_PAGE = 1000
MAX_SINCE = 2**62  # sequence numbers are 64-bit in both databases


# Every answer, pages and API alike: no inline script or style, no framing, no sniffing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' data:; style-src 'self'; script-src 'self';"
        # The job page asks the hub for its job's state (job.js): the hub only.
        " connect-src 'self';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


LOOPBACK_PROXY = "127.0.0.1"  # where setup.sh's nginx forwards from


def proxy_trust(tls_proxy: bool) -> dict[str, Any]:
    """waitress's settings for who the client is. Behind the TLS proxy (``hub serve
    --tls-proxy``) X-Forwarded-For/-Proto/-Host are taken from the loopback proxy only, so
    sign-in throttling and the audit see the real client; from anyone else, and without the
    flag, such headers are dropped before the app sees them."""
    if not tls_proxy:
        return {"clear_untrusted_proxy_headers": True}
    return {
        "trusted_proxy": LOOPBACK_PROXY,
        "trusted_proxy_count": 1,
        "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"},
        "clear_untrusted_proxy_headers": True,
    }


def create_hub(
    store: HubStore,
    *,
    max_concurrent_ingests: int = 4,
    timezone: str = DEFAULT_ZONE,
    compound: str = "",
    secure_cookies: bool = False,
    jobs_dir: Path | None = None,
) -> Flask:
    """``secure_cookies``: the hub is reached over TLS (the cookie gets the Secure flag). Who
    the client is behind a proxy is the server's to say (:func:`proxy_trust`), not the app's.
    ``jobs_dir``: where the background jobs keep their files (a temporary directory of the
    process when not given)."""
    zone(timezone)  # an unknown zone is refused at start, with its name
    app = Flask(__name__)
    app.config["HUB_TIMEZONE"] = timezone
    # The compound's name from before compounds were kept in the database: the name a hub's
    # only compound takes when the migration named it 默认小区.
    compounds.name_default(store, compound)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["hub_store"] = store
    app.extensions["ingest_slots"] = threading.BoundedSemaphore(max_concurrent_ingests)
    # The pages' background jobs (issuing passes, the pass PDF, the ledger's XLSX).
    app.extensions["hub_jobs"] = JobRunner(jobs_dir, tz=zone(timezone))
    app.config.update(
        SECRET_KEY=store.keys.session,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=secure_cookies,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="menwei_admin",
    )
    app.register_blueprint(api)
    app.register_blueprint(admin)

    @app.after_request
    def security_headers(response: Any) -> Any:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if secure_cookies:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if not request.path.startswith("/api/"):
            # A page in Chinese that says what to do; its header's forms carry the same token.
            return error_page(exc, page_user(current_user()))
        response = jsonify(error=exc.name, message=exc.description)
        response.status_code = exc.code or 500
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
        if isinstance(exc, Unauthorized):
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    return app


def _store() -> HubStore:
    return current_app.extensions["hub_store"]


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        raise Unauthorized("send the kiosk's token as 'Authorization: Bearer <token>'")
    return token.strip()


def _kiosk() -> KioskAuth:
    auth = _store().kiosk_for_token(_bearer())
    if auth is None:
        raise Unauthorized("unknown token: enrol this kiosk with a code from the admin")
    if auth.revoked:
        raise Forbidden("this kiosk's token has been revoked")
    return auth


def _body() -> dict[str, Any]:
    """The request's JSON object, parsed strictly (sync.protocol.parse_body): malformed JSON,
    deep nesting and bad Unicode are a 400, never a 500."""
    try:
        body = parse_body(request.get_data(cache=True))
    except BadBody as exc:
        raise BadRequest(f"请求内容无效 {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("请求内容必须是 JSON 对象 the body must be a JSON object")
    return body


def _page_args() -> tuple[int, int]:
    try:
        since = int(request.args.get("since", "0"))
        limit = int(request.args.get("limit", "500"))
    except ValueError:
        raise BadRequest("since and limit must be whole numbers") from None
    if not 0 <= since <= MAX_SINCE or not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"since must be 0 to {MAX_SINCE} and limit 1-{MAX_PAGE}")
    return since, limit


@api.get("/openapi.json")
def openapi() -> Any:
    return jsonify(openapi_document())


@api.post("/enrol")
def enrol() -> Any:
    body = _body()
    code = body.get("code")
    if not isinstance(code, str) or not 1 <= len(code) <= 64 or bad_text(code):
        raise BadRequest("'code' must be the enrolment code from the admin")
    # Where the kiosk's ledger stands: from there on its records must carry a valid mac.
    epoch, next_seq = body.get("epoch"), body.get("next_seq")
    if (epoch is None) != (next_seq is None) or (
        epoch is not None
        and (field_problem("epoch", epoch) is not None or field_problem("seq", next_seq))
    ):
        raise BadRequest("'epoch' and 'next_seq' go together: the kiosk ledger's head")
    store = _store()
    try:
        enrolled = store.enrol(code, epoch=epoch, next_seq=next_seq)
    except CompoundError as exc:
        raise Forbidden(str(exc)) from None
    if enrolled is None:
        raise Forbidden("this enrolment code is unknown, used or expired")
    kiosk_id, token = enrolled
    key = store.chain_key(kiosk_id)
    return jsonify(
        kiosk_id=kiosk_id,
        token=token,
        chain_key=None if key is None else key.hex(),
        # The key the kiosk hashes its visitors' ID numbers with (derived, never stored here).
        visitor_id_key=visitor_id_key(store.keys.id_key, kiosk_id).hex(),
    )


@api.post("/events")
def ingest() -> Any:
    auth = _kiosk()
    body = _body()
    records = body.get("records")
    if not isinstance(records, list):
        raise BadRequest("'records' must be a list")
    if len(records) > MAX_BATCH_RECORDS:
        raise RequestEntityTooLarge(f"at most {MAX_BATCH_RECORDS} records in one batch")
    queue = body.get("queue")
    if queue is not None and (
        isinstance(queue, bool) or not isinstance(queue, int) or not 0 <= queue < 2**62
    ):
        raise BadRequest("'queue' must be a whole number")
    runs = _settings_version(body.get("settings_version"))
    slots: threading.BoundedSemaphore = current_app.extensions["ingest_slots"]
    if not slots.acquire(timeout=0.5):
        raise TooManyRequests("the hub is busy; send this batch again later")
    try:
        results = _store().ingest(auth.kiosk_id, records, queue)
    finally:
        slots.release()
    record_report(_store(), auth.kiosk_id, runs)
    return jsonify(results=results)


def _settings_version(value: Any) -> int | None:
    """The settings version a kiosk says it runs: absent or null is unknown (a kiosk from
    before the report); anything else that is not a version is refused."""
    if value is None:
        return None
    runs = reported_version(value)
    if runs is None:
        raise BadRequest(f"'settings_version' must be a whole number 0 to {MAX_SINCE}")
    return runs


@api.post("/held")
def held() -> Any:
    auth = _kiosk()
    ids = _body().get("ids")
    if (
        not isinstance(ids, list)
        or len(ids) > MAX_HELD_IDS
        or not all(isinstance(i, str) and len(i) <= 64 and not bad_text(i) for i in ids)
    ):
        raise BadRequest(f"'ids' must be a list of at most {MAX_HELD_IDS} record ids")
    return jsonify(held=_store().held(auth.kiosk_id, ids))


@api.get("/checkpoint")
def checkpoint() -> Any:
    auth = _kiosk()
    return jsonify(kiosk_id=auth.kiosk_id, epochs=_store().checkpoint(auth.kiosk_id))


@api.get("/roster")
def roster() -> Any:
    auth = _kiosk()
    since, limit = _page_args()
    runs = None
    if "settings_version" in request.args:
        try:
            runs = _settings_version(int(request.args["settings_version"]))
        except ValueError:
            raise BadRequest("settings_version must be a whole number") from None
    store = _store()
    record_report(store, auth.kiosk_id, runs, seen=True)
    changes = store.roster_since(since, limit, auth.kiosk_id)
    version = changes[-1]["version"] if changes else since
    return jsonify(
        version=version,
        changes=changes,
        more=len(changes) == limit,
        # What the kiosk runs once it has applied this page (it reports it back).
        settings_version=version_at(store, auth.kiosk_id, version),
    )


@api.get("/ledger")
def ledger() -> Any:
    """For other systems: every stored event, paged by the hub's ingest sequence."""
    store = _store()
    reader = store.reader_for_token(_bearer())
    if reader is None:
        raise Unauthorized("unknown or revoked reader token")
    since, limit = _page_args()
    compound = store.reader_compound(reader)  # a reader token reads its own compound only
    events = store.events_since(since, limit, compound=compound)
    last = events[-1]["ingest_seq"] if events else since
    scoped = store.scoped(compound)
    with scoped.transaction():  # every read is in the audit log: who read which records
        scoped.reader_read(reader)
        audit(scoped, f"reader:{reader}", "reader.read", {"since": since, "count": len(events)})
    return jsonify(next_since=last, events=events, more=len(events) == limit)

"""Issue 11's attacks on keys, sessions, sign-in, the roster and the ledger search, each run as
an attacker would and seen to fail (the ingest and tamper attacks are in their own module)."""

from __future__ import annotations

import hashlib
import re
import shutil
import threading

import pytest
from itsdangerous import URLSafeTimedSerializer

from sync import auth
from sync.hub import residents
from sync.hub.admins import FREE_TRIES, create_admin, set_active, sign_in
from sync.hub.app import SECURITY_HEADERS, create_hub
from sync.hub.id_numbers import keyed_hash
from sync.hub.keys import HubKeys, KeyError_, load_keys
from sync.hub.store import HubStore
from tests import test_hub_admin
from tests.hub_helpers import PASSWORD, admin_routes, log_in, signed_in
from tests.sync_fixtures import drain, enrolled_client, make_ledger

ID_NUMBER = "11010519491231002X"
app = test_hub_admin.app  # the fixture: one account per role


def _forge(app, payload) -> str:
    """A cookie as Flask would sign it with the given key."""
    serializer = URLSafeTimedSerializer(
        app.secret_key,
        salt="cookie-session",
        serializer=app.session_interface.serializer,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    return serializer.dumps(payload)


# -- keys outside the data ---------------------------------------------------------------------


def test_a_copy_of_the_database_gives_back_no_id_number(tmp_path):
    keys_dir = tmp_path / "keys"
    store = HubStore(f"sqlite:///{tmp_path}/hub.sqlite3")
    store.migrate()
    store.keys = load_keys(keys_dir, store)
    data = f"building,unit,room,name,role,id_number\n5,1,101,吴十,owner,{ID_NUMBER}\n"
    residents.import_residents(store, "a.csv", data.encode(), "manager")
    store.close()
    shutil.copy(tmp_path / "hub.sqlite3", tmp_path / "stolen.sqlite3")

    stolen = HubStore(f"sqlite:///{tmp_path}/stolen.sqlite3")
    raw = (tmp_path / "stolen.sqlite3").read_bytes()
    for key in (store.keys.id_key, store.keys.session):
        assert key not in raw and key.hex().encode() not in raw
    assert stolen.fetch_all("SELECT * FROM hub_secrets") == []
    masked, stored_hash = stolen.fetch_one("SELECT id_masked, id_hash FROM residents")
    assert masked == "110105********002X"
    # The attack that took 0.08 s: try every birth date with whatever key the copy holds.
    candidates = [masked[:6] + f"19491231{n:01d}" + masked[-3:] for n in range(10)]
    assert ID_NUMBER in candidates
    assert all(keyed_hash(b"", c) != stored_hash for c in candidates)  # no key in the copy
    assert keyed_hash(store.keys.id_key, ID_NUMBER) == stored_hash  # only the file's key works
    stolen.close()


def test_keys_are_files_for_the_service_user_only(tmp_path):
    store = HubStore(f"sqlite:///{tmp_path}/hub.sqlite3")
    store.migrate()
    keys = load_keys(tmp_path / "keys", store)
    for name in ("session.key", "id.key"):
        assert (tmp_path / "keys" / name).stat().st_mode & 0o777 == 0o600
    assert load_keys(tmp_path / "keys", store) == keys  # made once, then read
    (tmp_path / "keys" / "id.key").chmod(0o644)
    with pytest.raises(KeyError_, match="chmod 600"):
        load_keys(tmp_path / "keys", store)


def test_systemd_credentials_come_first(tmp_path, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    for name in ("session.key", "id.key"):
        (credentials / name).write_bytes(name.encode() * 8)
        (credentials / name).chmod(0o600)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    keys = load_keys(tmp_path / "keys", None)
    assert keys.id_key == b"id.key" * 8 and not (tmp_path / "keys").exists()


def test_an_old_hub_moves_its_keys_out_and_still_finds_id_numbers(hub_store, tmp_path):
    old_key = "ab" * 32
    hub_store.execute("INSERT INTO hub_secrets (name, value) VALUES ('id_key', ?)", (old_key,))
    hub_store.execute("INSERT INTO hub_secrets (name, value) VALUES ('session', 'cd')")
    hub_store.keys = HubKeys(b"s" * 64, bytes.fromhex(old_key))
    data = f"building,unit,room,name,role,id_number\n5,1,101,吴十,owner,{ID_NUMBER}\n"
    residents.import_residents(hub_store, "a.csv", data.encode(), "manager")

    hub_store.keys = load_keys(tmp_path / "keys", hub_store)
    assert hub_store.fetch_all("SELECT * FROM hub_secrets") == []
    assert (tmp_path / "keys" / "id.key").read_bytes() == bytes.fromhex(old_key)
    assert residents.find_by_id_number(hub_store, ID_NUMBER)["name"] == "吴十"


def test_a_forged_cookie_opens_nothing(app):
    client = app.test_client()
    # The attack: a cookie for a user who does not exist, signed with the key from the
    # database. Even signed with the hub's real key it is no session: sessions are rows.
    for payload in (
        {"admin": {"username": "ghost", "role": "admin", "csrf": "x", "seen": 9e9}},
        {"sid": "made-up"},
    ):
        client.set_cookie("menwei_admin", _forge(app, payload))
        response = client.get("/admin/audit")
        assert response.status_code == 302 and "/admin/login" in response.location


# -- sessions bound to the account ---------------------------------------------------------


def _replay(client, cookie):
    client.set_cookie("menwei_admin", cookie)
    return client.get("/admin/audit")


def test_a_cookie_saved_before_logout_no_longer_works(app):
    client, csrf = signed_in(app, "admin")
    saved = client.get_cookie("menwei_admin").value
    assert client.get("/admin/audit").status_code == 200
    client.post("/admin/logout", data={"csrf": csrf})
    assert _replay(client, saved).status_code == 302


def test_demotion_a_new_password_or_disabling_ends_sessions_at_once(app, hub_store):
    for change in (
        lambda: create_admin(hub_store, "admin-user", PASSWORD, "viewer"),
        lambda: create_admin(hub_store, "admin-user", "a new password", "admin"),
        lambda: set_active(hub_store, "admin-user", False),
    ):
        create_admin(hub_store, "admin-user", PASSWORD, "admin")
        client, _ = signed_in(app, "admin")
        saved = client.get_cookie("menwei_admin").value
        change()
        response = _replay(client, saved)
        assert response.status_code == 302 and "/admin/login" in response.location


def test_sessions_end_after_idle_and_absolute_lifetimes(app, hub_store):
    client, _ = signed_in(app, "viewer")
    hub_store.execute("UPDATE admin_sessions SET seen_at = seen_at - 1801")
    assert client.get("/admin/ledger").status_code == 302
    client, _ = signed_in(app, "viewer")
    hub_store.execute("UPDATE admin_sessions SET created_at = created_at - 12 * 3600 - 1")
    assert client.get("/admin/ledger").status_code == 302


def test_the_cookie_is_secure_over_tls(hub_store):
    create_admin(hub_store, "admin-user", PASSWORD, "admin")
    app = create_hub(hub_store, secure_cookies=True)
    client = app.test_client()
    response = log_in(client, "admin-user", PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert response.headers["Strict-Transport-Security"]


# -- sign-in throttling ------------------------------------------------------------------------


def test_a_stranger_cannot_lock_the_owner_out(app):
    stranger, owner = app.test_client(), app.test_client()
    for _ in range(30):
        log_in(stranger, "admin-user", "guess", source="203.0.113.9")
    assert log_in(stranger, "admin-user", PASSWORD, source="203.0.113.9").status_code == 429
    assert log_in(owner, "admin-user", PASSWORD, source="198.51.100.7").status_code == 302


def _csrf(client) -> str:
    page = client.get("/admin/login").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_unknown_and_known_users_get_the_same_answer_and_the_same_work(app, monkeypatch):
    calls: list[tuple] = []
    real = auth.hashlib.scrypt

    def counting(*args, **kwargs):
        calls.append((kwargs["n"], kwargs["r"], kwargs["p"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(auth.hashlib, "scrypt", counting)
    answers = []
    for username in ("admin-user", "ghost"):
        calls.clear()
        for _ in range(FREE_TRIES + 2):
            response = log_in(app.test_client(), username, "wrong")
            page = re.sub(r'name="csrf" value="[^"]+"', "", response.get_data(as_text=True))
            answers.append((username, response.status_code, page))
        assert calls == [(2**16, 8, 1)] * FREE_TRIES  # the same hashing, then no check at all
    known, unknown = answers[: FREE_TRIES + 2], answers[FREE_TRIES + 2 :]
    assert [a[1:] for a in known] == [a[1:] for a in unknown]
    assert [a[1] for a in known] == [401] * FREE_TRIES + [429, 429]


def test_parallel_guessers_get_no_more_than_the_allowed_tries(hub_store):
    create_admin(hub_store, "admin-user", PASSWORD, "admin")
    results, start = [], threading.Barrier(30)

    def guess() -> None:
        start.wait()
        results.append(sign_in(hub_store, "admin-user", "guess", source="203.0.113.9", now=1e9))

    threads = [threading.Thread(target=guess) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checked = [r for r in results if r.reason == "wrong"]
    assert len(results) == 30 and len(checked) == FREE_TRIES
    assert all(r.reason == "wait" for r in results if r not in checked)


def test_an_old_password_hash_is_upgraded_on_sign_in(hub_store):
    create_admin(hub_store, "admin-user", PASSWORD, "admin")
    salt = b"s" * 16
    legacy = hashlib.scrypt(PASSWORD.encode(), salt=salt, dklen=32, **auth.LEGACY_SCRYPT)
    hub_store.execute(
        "UPDATE admins SET password_hash = ?", (f"scrypt${salt.hex()}${legacy.hex()}",)
    )
    assert sign_in(hub_store, "admin-user", PASSWORD).ok
    stored = hub_store.fetch_one("SELECT password_hash FROM admins")[0]
    assert stored.startswith("scrypt$n=65536,r=8,p=1$") and not auth.needs_rehash(stored)
    assert sign_in(hub_store, "admin-user", PASSWORD).ok


# -- least privilege on the roster -------------------------------------------------------------


def test_each_kiosk_gets_only_its_guards_and_no_old_pin_hash(hub):
    from sync.hub import roster_admin

    store = hub.store
    hub.start()
    tokens = {gate: store.enrol(store.create_enrol_code(gate))[1] for gate in ("gate-1", "gate-2")}
    roster_admin.set_guard(store, "li", "李师傅", "592731", "admin", ["gate-1"])
    old_hash = roster_admin.current(store, "guard")["li"]["pin_hash"]
    roster_admin.set_guard(store, "li", "李师傅", "604718", "admin", ["gate-1"])
    roster_admin.set_guard(store, "wang", "王师傅", "381946", "admin", ["gate-2"])
    assert old_hash not in str(store.fetch_all("SELECT data FROM roster"))  # not kept either

    import requests

    def roster(gate: str) -> dict:
        answer = requests.get(
            hub.url + "/api/v1/roster",
            headers={"Authorization": f"Bearer {tokens[gate]}"},
            timeout=5,
        )
        return {c["key"]: c["data"] for c in answer.json()["changes"] if c["kind"] == "guard"}

    one, two = roster("gate-1"), roster("gate-2")
    assert set(one["li"]) == {"name", "pin_hash"} and one["wang"] is None
    assert two["li"] is None and two["wang"]["name"] == "王师傅"
    assert old_hash not in str(one) + str(two)


def test_a_pass_carries_a_quarantine_flag_and_no_room_or_dates(hub_store, tmp_path):
    from kiosk.ledger import Ledger
    from kiosk.passes import lookup
    from kiosk.roster import apply_changes

    data = "building,unit,room,name,phone,role\n3,2,301,张三,13812345678,owner\n"
    residents.import_residents(hub_store, "a.csv", data.encode(), "manager")
    residents.issue_passes(hub_store, "manager", days=30)
    [person] = residents.residents(hub_store)
    today = residents.local_today(residents.zone())
    residents.register_quarantine(
        hub_store, person["resident_id"], today.isoformat(), today.isoformat(), "发热", "doc"
    )
    [change] = hub_store.roster_since(0, 10)
    assert change["data"]["quarantined"] is True
    assert set(change["data"]) == {
        "code",
        "resident_id",
        "building",
        "unit",
        "expires_on",
        "revoked",
        "quarantined",
    }
    # The random pass code and resident id may contain any digits (once "3015813069"): leave
    # them out of the search for the room and phone.
    shown = {k: v for k, v in change["data"].items() if k not in ("code", "resident_id")}
    sent = str(shown)
    for secret in ("301", "张三", "138", today.isoformat(), "发热"):
        assert secret not in sent
    kiosk = Ledger(tmp_path / "k.sqlite3", "gate-1")
    apply_changes(kiosk, [change])
    assert lookup(kiosk.connection(), person["code"]).quarantined
    # When the period is over the hub clears the flag and the kiosk follows.
    from datetime import timedelta

    assert residents.refresh_quarantine_flags(hub_store, today + timedelta(days=1)) == 1
    [cleared] = hub_store.roster_since(change["version"], 10)
    apply_changes(kiosk, [cleared])
    assert not lookup(kiosk.connection(), person["code"]).quarantined


# -- what pages show and how ---------------------------------------------------------------


def test_the_ledger_search_finds_only_what_the_ledger_shows(app, hub, tmp_path):
    ledger = make_ledger(tmp_path / "k.sqlite3")
    ledger.append("visitor", verdict="registered", detail={"phone": "13812345678", "name": "赵六"})
    ledger.append("vehicle", verdict="in", detail={"plate": "京AD12345"})
    drain(enrolled_client(hub.start(), ledger))
    client, _ = signed_in(app, "viewer")

    def found(text: str) -> int:
        page = client.get("/admin/ledger", query_string={"text": text}).get_data(as_text=True)
        return page.count('<tr class="')

    base = found("")
    assert base == 2, "the ledger page's rows are counted by their class"
    assert found("京AD12345") == 1  # a plate, shown
    for hidden in ("1381234", "13812345678", "赵六", "visitor", "registered"):
        assert found(hidden) == 0, hidden


def test_every_page_carries_the_security_headers_and_no_inline_style(app, hub_store):
    client, _ = signed_in(app, "admin")
    pages = [path for _e, method, path, _a in admin_routes(app) if method == "GET"]
    health, _ = signed_in(app, "health")
    for path in ["/admin/login", "/api/v1/openapi.json", *pages]:
        if "<" in path:
            continue
        response = (health if path == "/admin/quarantine" else client).get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        if response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            assert not re.search(r"<style|style=|<script(?![^>]*src=)|\son[a-z]+=", html), path


def test_the_id_look_up_is_a_post(app):
    client, _ = signed_in(app, "admin")
    page = client.get("/admin/residents").get_data(as_text=True)
    form = re.search(r'<form method="(\w+)" action="/admin/residents/by-id"', page)
    assert form and form.group(1) == "post"


# -- the kiosk's guard screen ------------------------------------------------------------------


@pytest.fixture
def guard_client(make_config, mock_factory):
    from kiosk.guard_accounts import add_guard
    from kiosk.server import start_in_background
    from kiosk.web import create_app

    kiosk = start_in_background(make_config(), pin_factory=mock_factory)
    add_guard(kiosk.ledger.connection(), "wang", "王师傅", "483190")
    yield create_app(kiosk.gate).test_client()
    kiosk.stop()


def test_a_guard_cookie_saved_before_lock_no_longer_works(guard_client):
    response = guard_client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": "483190"})
    csrf = response.get_json()["csrf"]
    saved = guard_client.get_cookie("menwei_guard").value
    assert guard_client.get("/api/guard/state").status_code == 200
    guard_client.post("/api/guard/lock", json={})
    guard_client.set_cookie("menwei_guard", saved)
    assert guard_client.get("/api/guard/state").status_code == 401
    replayed = guard_client.post(
        "/api/guard/direction", json={"direction": "out"}, headers={"X-CSRF-Token": csrf}
    )
    assert replayed.status_code == 401


def test_a_stranger_at_the_gate_keeps_a_guard_out_for_seconds_only(guard_client, monkeypatch):
    from kiosk import guard_accounts

    clock = [1000.0]
    monkeypatch.setattr(guard_accounts.time, "time", lambda: clock[0])
    for _ in range(40):  # the guard list is public; a stranger types PINs for the guard
        answer = guard_client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": "000000"})
        assert answer.get_json()["retry_after_s"] <= 30
        clock[0] += answer.get_json()["retry_after_s"]
    clock[0] += 30
    response = guard_client.post("/api/guard/unlock", json={"guard_id": "wang", "pin": "483190"})
    assert response.status_code == 200

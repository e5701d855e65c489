"""Enrolling a kiosk: the token and the chain key kept in 0600 files, a wrong code saves nothing."""

from __future__ import annotations

import stat

import pytest

from kiosk.enrolment import enrol_kiosk, read_token, token_path
from kiosk.ledger import CHAIN_KEY_FILE, Ledger
from sync.enrolment import EnrolmentError
from tests.sync_fixtures import free_port


@pytest.fixture
def running_hub(hub):
    return hub.start()


def _ledger(config):
    return Ledger(config.data_dir / "ledger.sqlite3", config.kiosk.id)


def test_enrolment_keeps_the_token_and_chain_key_for_the_owner_only(running_hub, make_config):
    config = make_config()
    code = running_hub.store.create_enrol_code("gate-1")
    assert enrol_kiosk(config, _ledger(config), code, running_hub.url) == "gate-1"
    assert read_token(config.data_dir) is not None
    for path in (token_path(config.data_dir), config.data_dir / CHAIN_KEY_FILE):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _ledger(config).chain_key() == running_hub.store.chain_key("gate-1")


def test_a_code_for_another_kiosk_saves_nothing(running_hub, make_config):
    config = make_config()
    code = running_hub.store.create_enrol_code("gate-9")
    with pytest.raises(EnrolmentError, match="gate-9"):
        enrol_kiosk(config, _ledger(config), code, running_hub.url)
    assert read_token(config.data_dir) is None
    assert not (config.data_dir / CHAIN_KEY_FILE).exists()


def test_an_unreachable_hub_says_so_in_chinese(make_config):
    config = make_config()
    with pytest.raises(EnrolmentError, match="连不上中心"):
        enrol_kiosk(config, _ledger(config), "code", f"http://127.0.0.1:{free_port()}")
    assert read_token(config.data_dir) is None

"""The ``hub`` commands for compounds: create and list them, accounts of compounds and of a
district, enrolment codes and reader tokens for a compound, and the refusal to guess which
compound is meant once there are several."""

from __future__ import annotations

from click.testing import CliRunner

from sync.hub import compounds
from sync.hub.cli import main
from sync.hub.store import HubStore
from tests.hub_helpers import PASSWORD


def hub(db: str, command: str, *args: str):
    """``hub COMMAND --db DB ARGS…`` (a command may be two words: ``roster guard``)."""
    return CliRunner().invoke(main, [*command.split(), "--db", db, *args], catch_exceptions=False)


def test_compounds_accounts_and_codes_from_the_command_line(tmp_path):
    db = f"sqlite:///{tmp_path}/hub.sqlite3"
    # One compound: --compound may be left out, as before.
    assert hub(db, "admin-create", "first", "--password", PASSWORD).exit_code == 0
    made = hub(db, "compound-create", "光明苑小区", "--district", "和平街道")
    assert made.exit_code == 0 and "已创建小区 光明苑小区（和平街道）" in made.output
    assert hub(db, "compound-set", "默认小区", "--rename", "幸福里小区").exit_code == 0
    listed = hub(db, "compounds").output
    assert "幸福里小区" in listed and "光明苑小区" in listed and "和平街道" in listed
    assert "first" in listed  # the account made on the one-compound hub has it

    # Several compounds: a command that needs one says so and stores nothing.
    unclear = hub(db, "enrol-code", "gate-1")
    assert unclear.exit_code == 1 and "中心有多个小区：请指定小区" in unclear.output
    unclear = hub(db, "admin-create", "wang", "--password", PASSWORD)
    assert unclear.exit_code == 1 and "--compound" in unclear.output
    unknown = hub(db, "enrol-code", "gate-1", "--compound", "没有的小区")
    assert unknown.exit_code == 1 and "没有名为“没有的小区”的小区" in unknown.output

    store = HubStore(db)
    guangming = compounds.by_name(store, "光明苑小区").compound_id
    code = hub(db, "enrol-code", "gate-1", "--compound", "光明苑小区").output.strip()
    assert store.enrol(code)[0] == "gate-1"
    assert store.fetch_one("SELECT compound_id FROM kiosks WHERE kiosk_id = 'gate-1'") == (
        guangming,
    )
    assert (
        hub(
            db,
            "admin-create",
            "wang",
            "--password",
            PASSWORD,
            "--compound",
            "光明苑小区",
            "--compound",
            "幸福里小区",
            "--role",
            "viewer",
        ).exit_code
        == 0
    )
    assert [c.name for c in compounds.of_account(store, "wang")] == ["幸福里小区", "光明苑小区"]
    district = hub(
        db,
        "admin-create",
        "jiedao",
        "--password",
        PASSWORD,
        "--role",
        "district",
        "--district",
        "和平街道",
    )
    assert district.exit_code == 0
    assert [c.name for c in compounds.of_account(store, "jiedao")] == ["光明苑小区"]
    wrong = hub(db, "admin-create", "jd2", "--password", PASSWORD, "--role", "district")
    assert wrong.exit_code == 1 and "--district" in wrong.output
    token = hub(db, "reader-token", "gov", "--compound", "光明苑小区").output.strip()
    assert store.reader_compound(store.reader_for_token(token)) == guangming
    guard = hub(
        db,
        "roster guard",
        "g1",
        "王师傅",
        "--pin",
        "274951",
        "--gate",
        "gate-1",
        "--compound",
        "光明苑小区",
    )
    assert guard.exit_code == 0
    assert [c["key"] for c in store.roster_since(0, 10, "gate-1")] == ["g1"]
    assert (
        store.scoped(compounds.by_name(store, "幸福里小区").compound_id).roster_since(0, 10) == []
    )
    store.close()


def test_the_first_compound_of_a_new_hub_takes_the_place_of_its_empty_default(tmp_path):
    """Field trial: a new hub kept an empty 默认小区 beside the first compound made, in every
    list and in the district report. Once anything is in it, it stays."""
    db = f"sqlite:///{tmp_path}/hub.sqlite3"
    made = hub(db, "compound-create", "光明苑小区", "--district", "和平街道")
    assert made.exit_code == 0 and "空“默认小区”由它代替" in made.output
    assert hub(db, "compound-create", "幸福里小区").exit_code == 0
    store = HubStore(db)
    assert [(c.name, c.district) for c in compounds.all_compounds(store)] == [
        ("光明苑小区", "和平街道"),
        ("幸福里小区", ""),
    ]
    store.close()
    kept = f"sqlite:///{tmp_path}/kept.sqlite3"
    assert hub(kept, "enrol-code", "gate-1").exit_code == 0  # a gate on the way in it
    made = hub(kept, "compound-create", "光明苑小区")
    assert made.exit_code == 0 and "代替" not in made.output
    store = HubStore(kept)
    assert [c.name for c in compounds.all_compounds(store)] == ["默认小区", "光明苑小区"]
    store.close()


def test_the_list_of_tables_a_compound_owns_is_the_schemas(tmp_path):
    store = HubStore(f"sqlite:///{tmp_path}/hub.sqlite3")
    store.migrate()
    tables = [
        row[0] for row in store.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")
    ]
    owning = {
        table
        for table in tables
        if table != "compounds"
        and any(
            column[1] == "compound_id" for column in store.fetch_all(f"PRAGMA table_info({table})")
        )
    }
    store.close()
    assert owning == set(compounds.OWNING_TABLES)


def test_the_hubs_own_audit_entries_are_read_with_hub_audit(tmp_path):
    """On a hub of several compounds, the entries of no compound (an account made, a compound
    made, a sign-in) were on no page: ``hub audit`` shows them, in words and Beijing time."""
    db = f"sqlite:///{tmp_path}/hub.sqlite3"
    assert hub(db, "compound-create", "光明苑小区").exit_code == 0
    assert hub(db, "compound-create", "幸福里小区").exit_code == 0
    made = hub(db, "admin-create", "wang", "--password", PASSWORD, "--compound", "光明苑小区")
    assert made.exit_code == 0
    guard = ("g1", "王师傅", "--pin", "274951", "--gate", "gate-9", "--compound", "光明苑小区")
    assert hub(db, "enrol-code", "gate-9", "--compound", "光明苑小区").exit_code == 0
    assert hub(db, "roster guard", *guard).exit_code == 0
    whole = hub(db, "audit")
    assert whole.exit_code == 0, whole.output
    # The account, in the hub's own entries, names its compound; the guard is the compound's.
    assert "全中心 hub" in whole.output and "设置管理账户" in whole.output
    assert "小区：光明苑小区" in whole.output and "账户：wang" in whole.output
    assert "设置门卫" in whole.output and "+00:00" not in whole.output
    one = hub(db, "audit", "--compound", "光明苑小区")
    assert "设置门卫" in one.output and "全中心 hub" not in one.output
    nowhere = hub(db, "audit", "--compound", "无此小区")
    assert nowhere.exit_code == 1 and "Traceback" not in nowhere.output

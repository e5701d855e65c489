#!/usr/bin/env bash
# Menwei's one installer.
#   ./setup.sh demo    kiosk on this machine: simulated sensor, mock GPIO, embedded database
#   ./setup.sh test    install what the tests need and run the whole suite
#   sudo ./setup.sh install   Raspberry Pi install (not available yet)
# Idempotent: running it again only installs what is missing.
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")"
VENV=.venv
PYTHON=${PYTHON:-python3}
DEMO_DIR=${MENWEI_DEMO_DIR:-demo-data}
TEST_SYSTEM_PACKAGES=(chromium fonts-wqy-microhei shellcheck)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

check_python() {
    command -v "$PYTHON" >/dev/null || die "no $PYTHON found: install Python 3.11 or newer"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$PYTHON is $("$PYTHON" --version 2>&1); Menwei needs Python 3.11 or newer"
}

# Create .venv and install the project (with extras, e.g. "test"), only when pyproject.toml changed.
ensure_venv() {
    local extras=$1 spec=. stamp
    check_python
    [ -n "$extras" ] && spec=".[$extras]"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating $VENV"
        "$PYTHON" -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
    fi
    stamp="$(sha256sum pyproject.toml | cut -d' ' -f1) $extras"
    if [ "$(cat "$VENV/.menwei-installed" 2>/dev/null)" != "$stamp" ]; then
        say "installing Menwei into $VENV ($spec)"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet -e "$spec"
        echo "$stamp" > "$VENV/.menwei-installed"
    fi
}

# Install Debian packages that are missing; as root through apt-get, otherwise say what to run.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null; then
        die "missing system packages: ${missing[*]} (install them with your package manager)"
    fi
    if [ "$(id -u)" -ne 0 ]; then
        die "missing system packages: ${missing[*]}; run: sudo apt-get install ${missing[*]}"
    fi
    say "installing system packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

cmd_test() {
    ensure_packages "${TEST_SYSTEM_PACKAGES[@]}"
    ensure_venv test
    say "ruff"
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    say "pytest"
    exec "$VENV/bin/python" -m pytest "$@"
}

cmd_demo() {
    ensure_venv ""
    mkdir -p "$DEMO_DIR"
    if [ ! -f "$DEMO_DIR/kiosk.toml" ]; then
        cat > "$DEMO_DIR/kiosk.toml" <<'TOML'
# Demo kiosk: simulated MLX90614 and mock GPIO pins, ledger in this directory.
[kiosk]
id = "demo-gate"
data_dir = "."
identify = "before"

[sensor]
simulate = true

[gpio]
relay_pin = 23

[web]
port = 8080

[sync]
hub_url = "http://127.0.0.1:8090"
interval_s = 5
TOML
    fi
    local kiosk="$VENV/bin/kiosk"
    if [ ! -f "$DEMO_DIR/ledger.sqlite3" ]; then
        cat > "$DEMO_DIR/passes.csv" <<'CSV'
code,name,building,unit,room,expires_on,revoked,quarantine_until
10010301,张三,1,1,301,2099-12-31,,
10010302,李四,1,1,302,2099-12-31,,
10020101,王五,1,2,101,2099-12-31,yes,
20010501,赵六,2,1,501,2099-12-31,,2099-12-31
CSV
        printf '某市某区\n' > "$DEMO_DIR/risk-areas.txt"
        "$kiosk" passes load --config "$DEMO_DIR/kiosk.toml" "$DEMO_DIR/passes.csv"
        "$kiosk" risk-areas load --config "$DEMO_DIR/kiosk.toml" "$DEMO_DIR/risk-areas.txt"
        "$kiosk" guards add --config "$DEMO_DIR/kiosk.toml" --pin 2468 demo "演示门卫" >/dev/null
    fi
    # The hub beside the kiosk, on its own SQLite file; stopped when the demo ends.
    local hub_db
    hub_db="sqlite:///$(realpath -m "$DEMO_DIR")/hub.sqlite3"
    "$VENV/bin/hub" serve --db "$hub_db" --port 8090 &
    local hub_pid=$!
    # shellcheck disable=SC2064  # expand now: hub_pid is local to this function
    trap "kill $hub_pid 2>/dev/null" EXIT
    if [ ! -f "$DEMO_DIR/hub_token" ]; then
        local code
        code=$("$VENV/bin/hub" enrol-code --db "$hub_db" demo-gate)
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            "$kiosk" enrol --config "$DEMO_DIR/kiosk.toml" --code "$code" 2>/dev/null && break
            sleep 0.5
        done
    fi
    say "kiosk:        http://127.0.0.1:8080/       (the touchscreen; passes 10010301, 10010302)"
    say "guard screen: http://127.0.0.1:8080/guard  (guard 演示门卫, PIN 2468)"
    say "control panel http://127.0.0.1:8080/demo   (or: $VENV/bin/kiosk sim person 38.2)"
    say "ledger:       $DEMO_DIR/ledger.sqlite3     ($VENV/bin/kiosk verify --config $DEMO_DIR/kiosk.toml)"
    say "hub:          http://127.0.0.1:8090/api/v1/openapi.json"
    say "              records arriving: $VENV/bin/hub tail --follow --db $hub_db"
    "$kiosk" serve --config "$DEMO_DIR/kiosk.toml"
}

cmd_install() {
    die "'install' (the Raspberry Pi install with systemd units) is not available yet; use ./setup.sh demo"
}

case "${1:-}" in
    demo) shift; cmd_demo "$@" ;;
    test) shift; cmd_test "$@" ;;
    install) shift; cmd_install "$@" ;;
    *) die "usage: ./setup.sh demo | test | install" ;;
esac

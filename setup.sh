#!/usr/bin/env bash
# Menwei's one installer.
#   ./setup.sh demo    kiosk on this machine: simulated sensor, mock GPIO, embedded database
#   ./setup.sh test    install what the tests need and run the whole suite
#   sudo ./setup.sh install [--ca-file F]  install on a Raspberry Pi (F: the hub's internal CA)
#   sudo ./setup.sh install --hub [--hub-name N] [--cert F --key F]
#                                     the hub on a Debian machine, behind nginx (TLS)
#   sudo ./setup.sh uninstall [--purge]   remove the programs (and, with --purge, config and data)
# Idempotent: running it again only installs what is missing.
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")"
VENV=.venv
PYTHON=${PYTHON:-python3}
DEMO_DIR=${MENWEI_DEMO_DIR:-demo-data}
TEST_SYSTEM_PACKAGES=(chromium fonts-wqy-microhei shellcheck systemd debootstrap zbar-tools poppler-utils espeak-ng sox
    nginx qemu-user-static binfmt-support)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

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

# The install test also runs on arm64, a Pi's architecture: qemu-user-static registers its
# interpreters with binfmt_misc when systemd starts binfmt-support, which a container or a CI job
# may not do; register them here (root only; the test says what is missing otherwise).
ensure_arm64_emulation() {
    local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
    [ "$(uname -m)" = aarch64 ] && return 0
    [ -e "$entry" ] && head -n1 "$entry" | grep -qx enabled && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v update-binfmts >/dev/null; then
        say "no arm64 emulation ($entry): the arm64 install test will say so"
        return 0
    fi
    [ -e /proc/sys/fs/binfmt_misc/register ] \
        || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
        || { say "cannot mount binfmt_misc: no arm64 emulation here"; return 0; }
    update-binfmts --enable qemu-aarch64 || say "update-binfmts could not enable qemu-aarch64"
}

cmd_test() {
    ensure_packages "${TEST_SYSTEM_PACKAGES[@]}"
    ensure_arm64_emulation
    ensure_venv test,hub
    say "ruff"
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    say "mypy"
    "$VENV/bin/mypy"  # drivers/ kiosk/ sync/, as set in pyproject.toml; cache in .mypy_cache
    say "pytest"
    exec "$VENV/bin/python" -m pytest "$@"
}

cmd_demo() {
    case "${1:-}" in
        -h | --help)
            usage
            echo "The demo picks free ports when 8080 (kiosk) or 8090 (hub) are taken, and says which."
            return 0
            ;;
    esac
    # A .venv made by './setup.sh test' (same pyproject.toml) already holds all the demo needs.
    if [ -x "$VENV/bin/kiosk" ] && grep -q "^$(sha256sum pyproject.toml | cut -d' ' -f1) " \
        "$VENV/.menwei-installed" 2>/dev/null; then
        check_python
    else
        ensure_venv hub  # the demo runs a hub beside the kiosk
    fi
    mkdir -p "$DEMO_DIR"
    if [ ! -f "$DEMO_DIR/kiosk.toml" ]; then
        cat > "$DEMO_DIR/kiosk.toml" <<'TOML'
# Demo kiosk: simulated MLX90614 and mock GPIO pins, ledger in this directory.
# The demo keeps web.port and sync.hub_url on the ports it runs on.
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
    local kiosk="$VENV/bin/kiosk" pin=246813
    if [ ! -f "$DEMO_DIR/ledger.sqlite3" ]; then
        cat > "$DEMO_DIR/passes.csv" <<'CSV'
code,name,building,unit,room,expires_on,revoked,quarantine_until
10010301,张三,1,1,301,2099-12-31,,
10010302,李四,1,1,302,2099-12-31,,
10020101,王五,1,2,101,2099-12-31,yes,
20010501,赵六,2,1,501,2099-12-31,,2099-12-31
CSV
        printf '某市某区\n' > "$DEMO_DIR/risk-areas.txt"
        "$kiosk" -q passes load --config "$DEMO_DIR/kiosk.toml" "$DEMO_DIR/passes.csv"
        "$kiosk" -q risk-areas load --config "$DEMO_DIR/kiosk.toml" "$DEMO_DIR/risk-areas.txt"
    fi
    # Every start: a demo from before 6-digit PINs gets the new PIN.
    "$kiosk" -q guards add --config "$DEMO_DIR/kiosk.toml" --pin "$pin" demo "演示门卫" >/dev/null
    # The hub and the kiosk: ports checked (free ones taken and named when busy), each waited for
    # until it says it is serving, all stopped when a step fails or on Ctrl-C (kiosk/demo_run.py).
    exec "$VENV/bin/python" -m kiosk.demo_run "$DEMO_DIR" "$pin"
}

# --- the Raspberry Pi (or hub) install -------------------------------------------------------
PREFIX=/opt/menwei
ETC=/etc/menwei
UNITS=/etc/systemd/system
KIOSK_PACKAGES=(python3-venv chromium cage i2c-tools fonts-wqy-microhei espeak-ng alsa-utils)
HUB_PACKAGES=(python3-venv fonts-wqy-microhei nginx openssl)
HUB_ETC=/etc/menwei-hub

did() { printf '  - %s\n' "$*"; }

boot_config() {
    local candidate
    for candidate in /boot/firmware/config.txt /boot/config.txt; do
        [ -f "$candidate" ] && { echo "$candidate"; return 0; }
    done
    return 1
}

# Add a line to a file unless it is already there.
ensure_line() {
    local file=$1 line=$2
    grep -qxF "$line" "$file" 2>/dev/null && return 1
    printf '%s\n' "$line" >> "$file"
}

ensure_group() { getent group "$1" >/dev/null || { groupadd --system "$1"; did "group $1 created"; }; }

ensure_user() {
    local user=$1 home=$2 groups=$3 group
    for group in ${groups//,/ }; do ensure_group "$group"; done
    if ! id "$user" >/dev/null 2>&1; then
        useradd --system --user-group --home-dir "$home" --no-create-home \
            --shell /usr/sbin/nologin "$user"
        did "user $user created"
    fi
    for group in ${groups//,/ }; do
        if ! id -nG "$user" | tr ' ' '\n' | grep -qx "$group"; then
            usermod -a -G "$group" "$user"
            did "$user added to $group"
        fi
    done
}

enable_i2c() {
    local config
    if ! config=$(boot_config); then
        did "no /boot/firmware/config.txt: not a Raspberry Pi, I2C left as it is"
        return 0
    fi
    # 100 kHz: the MLX90614 is an SMBus device and does not support fast-mode I2C.
    ensure_line "$config" "dtparam=i2c_arm=on" && did "I2C enabled in $config (reboot to apply)"
    ensure_line "$config" "dtparam=i2c_arm_baudrate=100000" && did "I2C bus at 100 kHz in $config"
    mkdir -p /etc/modules-load.d
    if [ ! -f /etc/modules-load.d/menwei-i2c.conf ]; then
        echo i2c-dev > /etc/modules-load.d/menwei-i2c.conf
        did "i2c-dev loaded at boot"
    fi
}

# Install (or upgrade) the program into $PREFIX; reinstalls only when the source changed.
# $1: the extra to install with it ("hub" for the hub; a kiosk takes none: no psycopg, openpyxl,
# lxml, segno or fpdf2 on a Pi).
install_program() {
    local extras=$1 spec="$PREFIX/src" stamp
    [ -n "$extras" ] && spec="$PREFIX/src[$extras]"
    stamp="$(find kiosk drivers sync pyproject.toml -type f ! -path '*/__pycache__/*' -print0 \
        | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1) $extras"
    if [ "$(cat "$PREFIX/.installed" 2>/dev/null)" = "$stamp" ]; then
        did "$PREFIX is up to date"
        return 0
    fi
    mkdir -p "$PREFIX"
    rm -rf "$PREFIX/src"
    mkdir -p "$PREFIX/src"
    cp -r kiosk drivers sync systemd docs pyproject.toml README.md "$PREFIX/src/"
    find "$PREFIX/src" -name __pycache__ -prune -exec rm -rf {} +
    [ -x "$PREFIX/venv/bin/python" ] || python3 -m venv "$PREFIX/venv"
    "$PREFIX/venv/bin/python" -m pip install --quiet --upgrade pip
    "$PREFIX/venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$PREFIX/src"
    "$PREFIX/venv/bin/python" -m pip install --quiet "$spec"
    echo "$stamp" > "$PREFIX/.installed"
    did "Menwei installed in $PREFIX"
}

install_unit() {
    local unit=$1
    if ! cmp -s "systemd/$unit" "$UNITS/$unit"; then
        install -m 0644 "systemd/$unit" "$UNITS/$unit"
        did "unit $unit installed"
    fi
    systemctl enable --quiet "$unit" 2>/dev/null || systemctl enable "$unit"
}

# Start (or restart after an upgrade) only where systemd runs: not in a chroot or an image build.
start_units() {
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        systemctl restart "$@"
        did "started: $*"
    else
        did "systemd is not running here: $* start at the next boot"
    fi
}

# Logs go to the journal only; cap it so that it never fills the SD card.
limit_journal() {
    local conf=/etc/systemd/journald.conf.d/menwei.conf
    [ -f "$conf" ] && return 0
    mkdir -p "$(dirname "$conf")"
    printf '[Journal]\nSystemMaxUse=64M\n' > "$conf"
    did "journal capped at 64 MB"
}

# The spoken prompts, rendered once with espeak-ng's Mandarin voice (the kiosk renders any that
# are missing at start, so a failure here costs nothing but a line).
render_voice() {
    if "$PREFIX/venv/bin/kiosk" voice-render --config "$ETC/kiosk.toml" --quiet; then
        chown -R menwei:menwei /var/lib/menwei/voice
    else
        say "voice prompts not rendered now; the kiosk renders them when it starts"
    fi
}

write_kiosk_config() {
    mkdir -p "$ETC"
    chmod 0755 "$ETC"
    if [ ! -f "$ETC/kiosk.toml" ]; then
        cat > "$ETC/kiosk.toml" <<TOML
# Menwei kiosk settings: see $PREFIX/src/docs/config.md. Kept across upgrades.
[kiosk]
id = "$(hostname -s 2>/dev/null || echo gate-1)"
data_dir = "/var/lib/menwei"

[gpio]
buzzer_pin = 18
TOML
        chmod 0644 "$ETC/kiosk.toml"
        did "$ETC/kiosk.toml written (edit kiosk.id, pins, sync.hub_url)"
    fi
}

# The hub's session and ID-number keys: files for the service user only, never in the database.
make_hub_keys() {
    install -d -m 0755 "$HUB_ETC"
    install -d -m 0700 -o menwei-hub -g menwei-hub "$HUB_ETC/keys"
    local db=sqlite:////var/lib/menwei-hub/hub.sqlite3 line
    if [ -f "$ETC/hub.env" ]; then
        line=$(grep -E '^MENWEI_HUB_DB=' "$ETC/hub.env" | tail -n1 || true)
        [ -n "$line" ] && db=${line#MENWEI_HUB_DB=}
    fi
    if [ -f "$HUB_ETC/keys/session.key" ] && [ -f "$HUB_ETC/keys/id.key" ]; then
        did "hub keys in $HUB_ETC/keys kept"
        return 0
    fi
    runuser -u menwei-hub -- "$PREFIX/venv/bin/hub" keys --db "$db" --keys "$HUB_ETC/keys" >/dev/null
    did "hub keys made in $HUB_ETC/keys (0600, menwei-hub)"
}

# TLS in front of the hub: nginx on 443 (80 redirects), the hub itself on 127.0.0.1:8090.
# The operator's certificate (--cert/--key), or an internal CA made here whose root each kiosk
# takes with 'setup.sh install --ca-file ca.crt'.
hub_tls() {
    local name=$1 cert=$2 key=$3 tls=$HUB_ETC/tls
    install -d -m 0755 "$tls"
    if [ -n "$cert" ]; then
        if [ ! -f "$cert" ] || [ ! -f "$key" ]; then
            die "--cert and --key must both be readable files"
        fi
        install -m 0644 "$cert" "$tls/hub.crt"
        install -m 0600 "$key" "$tls/hub.key"
        did "TLS: the operator's certificate installed in $tls"
    elif [ ! -f "$tls/hub.crt" ] || [ "$(cat "$tls/name" 2>/dev/null)" != "$name" ]; then
        if [ ! -f "$tls/ca.crt" ]; then
            (umask 077 && openssl genrsa -out "$tls/ca.key" 3072 2>/dev/null)
            openssl req -x509 -new -key "$tls/ca.key" -sha256 -days 3650 \
                -subj "/O=Menwei/CN=Menwei hub CA" -out "$tls/ca.crt" 2>/dev/null
            chmod 0644 "$tls/ca.crt"
            did "TLS: internal CA made ($tls/ca.crt: give it to each kiosk's install)"
        fi
        local san="DNS:$name,DNS:localhost,IP:127.0.0.1" address
        for address in $(hostname -I 2>/dev/null); do
            [[ $address == *:* ]] || san="$san,IP:$address"
        done
        (umask 077 && openssl genrsa -out "$tls/hub.key" 2048 2>/dev/null)
        openssl req -new -key "$tls/hub.key" -subj "/CN=$name" -out "$tls/hub.csr" 2>/dev/null
        printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > "$tls/hub.ext"
        openssl x509 -req -in "$tls/hub.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
            -CAcreateserial -days 825 -sha256 -extfile "$tls/hub.ext" -out "$tls/hub.crt" 2>/dev/null
        rm -f "$tls/hub.csr" "$tls/hub.ext"
        echo "$name" > "$tls/name"
        did "TLS: certificate for $name signed by the internal CA"
    fi
    local site=/etc/nginx/sites-available/menwei-hub
    local conf
    conf=$(sed -e "s|@NAME@|$name|g" -e "s|@TLS@|$tls|g" -e "s|@HTTP_PORT@|80|g" \
        -e "s|@HTTPS_PORT@|443|g" -e "s|@HUB_PORT@|8090|g" systemd/menwei-hub.nginx)
    if [ "$(cat "$site" 2>/dev/null)" != "$conf" ]; then
        printf '%s\n' "$conf" > "$site"
        did "nginx site $site written"
    fi
    ln -sfn "$site" /etc/nginx/sites-enabled/menwei-hub
    if [ -L /etc/nginx/sites-enabled/default ]; then
        rm -f /etc/nginx/sites-enabled/default
        did "nginx's default site disabled"
    fi
}

# A kiosk that syncs with a hub behind the internal CA: keep its root, point sync.ca_file at it.
kiosk_ca() {
    local ca=$1
    [ -f "$ca" ] || die "--ca-file $ca is not a file"
    if ! cmp -s "$ca" "$ETC/hub-ca.crt"; then
        install -m 0644 "$ca" "$ETC/hub-ca.crt"
        did "hub CA installed as $ETC/hub-ca.crt"
    fi
    if ! grep -q '^ca_file' "$ETC/kiosk.toml"; then
        if grep -q '^\[sync\]' "$ETC/kiosk.toml"; then
            sed -i "/^\[sync\]/a ca_file = \"$ETC/hub-ca.crt\"" "$ETC/kiosk.toml"
        else
            printf '\n[sync]\nca_file = "%s"\n' "$ETC/hub-ca.crt" >> "$ETC/kiosk.toml"
        fi
        did "sync.ca_file set in $ETC/kiosk.toml"
    fi
}

cmd_install() {
    [ "$(id -u)" -eq 0 ] || die "run it as root: sudo ./setup.sh install [--hub]"
    local mode=kiosk name="" cert="" key="" ca_file=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --hub) mode=hub ;;
            --hub-name) name=${2:?--hub-name NAME}; shift ;;
            --cert) cert=${2:?--cert FILE}; shift ;;
            --key) key=${2:?--key FILE}; shift ;;
            --ca-file) ca_file=${2:?--ca-file FILE}; shift ;;
            *) die "install: unknown option $1 (--hub [--hub-name NAME] [--cert F --key F] | --ca-file F)" ;;
        esac
        shift
    done
    echo "Menwei $mode install:"
    if [ "$mode" = kiosk ]; then
        ensure_packages "${KIOSK_PACKAGES[@]}"
        enable_i2c
        ensure_user menwei /var/lib/menwei i2c,gpio,audio
        ensure_user menwei-display /run/menwei-display video,input,render
        install_program ""
        write_kiosk_config
        [ -n "$ca_file" ] && kiosk_ca "$ca_file"
        install -d -m 0750 -o menwei -g menwei /var/lib/menwei
        render_voice
        limit_journal
        install_unit menwei-kiosk.service
        install_unit menwei-browser.service
        start_units menwei-kiosk.service menwei-browser.service
        echo "Next: check the wiring with 'sudo -u menwei $PREFIX/venv/bin/kiosk doctor'."
    else
        ensure_packages "${HUB_PACKAGES[@]}"
        ensure_user menwei-hub /var/lib/menwei-hub ""
        install_program hub
        mkdir -p "$ETC"
        install -d -m 0750 -o menwei-hub -g menwei-hub /var/lib/menwei-hub
        make_hub_keys
        hub_tls "${name:-$(hostname -f 2>/dev/null || hostname)}" "$cert" "$key"
        limit_journal
        install_unit menwei-hub.service
        start_units menwei-hub.service nginx.service
        echo "Next: make an enrolment code for each kiosk: $PREFIX/venv/bin/hub enrol-code gate-1"
        [ -f "$HUB_ETC/tls/ca.crt" ] && [ -z "$cert" ] &&
            echo "      and install each kiosk with: sudo ./setup.sh install --ca-file ca.crt" \
                "(copy $HUB_ETC/tls/ca.crt; sync.hub_url = \"https://<this hub>\")"
    fi
}

cmd_uninstall() {
    [ "$(id -u)" -eq 0 ] || die "run it as root: sudo ./setup.sh uninstall [--purge]"
    local unit
    echo "Menwei uninstall:"
    for unit in menwei-browser.service menwei-kiosk.service menwei-hub.service; do
        [ -f "$UNITS/$unit" ] || continue
        systemctl disable --quiet "$unit" 2>/dev/null || true
        [ -d /run/systemd/system ] && systemctl stop "$unit"
        rm -f "$UNITS/$unit"
        did "unit $unit removed"
    done
    rm -rf "$PREFIX" /etc/modules-load.d/menwei-i2c.conf /etc/systemd/journald.conf.d/menwei.conf
    did "$PREFIX removed"
    if [ "${1:-}" = "--purge" ]; then
        rm -rf "$ETC" "$HUB_ETC" /var/lib/menwei /var/lib/menwei-hub
        rm -f /etc/nginx/sites-enabled/menwei-hub /etc/nginx/sites-available/menwei-hub
        did "configuration and data removed"
    else
        did "kept: $ETC and /var/lib/menwei* (the ledger); 'uninstall --purge' removes them"
    fi
}

case "${1:-}" in
    demo) shift; cmd_demo "$@" ;;
    test) shift; cmd_test "$@" ;;
    install) shift; cmd_install "$@" ;;
    uninstall) shift; cmd_uninstall "$@" ;;
    -h | --help | help) usage ;;
    *) die "usage: ./setup.sh demo | test | install [--hub] | uninstall [--purge]" ;;
esac

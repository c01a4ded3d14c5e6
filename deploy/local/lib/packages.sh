# shellcheck shell=bash
# Installs the Debian packages the local services need, and only those that are missing.
# Sourced by services.sh after lib/common.sh.

# The newest PostgreSQL server's bin directory from the Debian packages, or nothing.
newest_pg_bin() {
    local dir newest=""
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x "$dir/postgres" && -x "$dir/psql" ]] || continue
        newest="$(printf '%s\n' "$newest" "$dir" | sort -V | tail -n 1)"
    done
    if [[ -n "$newest" ]]; then echo "$newest"; fi
}

# The major version of the java on PATH (17 for "17.0.15"), or nothing.
java_major() {
    command -v java >/dev/null || return 0
    java -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p'
}

missing_packages() {
    local major
    [[ -x /usr/sbin/mosquitto ]] || echo mosquitto
    command -v mosquitto_pub >/dev/null || echo mosquitto-clients
    [[ -n "$(newest_pg_bin)" ]] || echo postgresql postgresql-client
    command -v mvn >/dev/null || echo maven
    major="$(java_major)"
    [[ -n "$major" ]] && ((major >= 17)) || echo openjdk-17-jre-headless
    command -v ss >/dev/null || echo iproute2
    command -v runuser >/dev/null || echo util-linux
    return 0
}

ensure_packages() {
    local missing
    missing="$(missing_packages | tr ' ' '\n' | sort -u | paste -sd' ')"
    [[ -n "$missing" ]] || return 0
    is_root || die "missing packages: $missing. Install them (apt-get install $missing) or run as root."
    say "installing Debian packages: $missing"
    export DEBIAN_FRONTEND=noninteractive
    mkdir -p "$MW_LOG_DIR"
    # shellcheck disable=SC2086  # word splitting of the package list is wanted
    if ! { apt-get update -q && apt-get install -y -q -o DPkg::Lock::Timeout=300 \
        --no-install-recommends $missing; } \
        >"$MW_LOG_DIR/apt.log" 2>&1; then
        show_log_tail "$MW_LOG_DIR/apt.log"
        die "apt-get could not install: $missing"
    fi
    [[ -z "$(missing_packages)" ]] || die "still missing after apt-get install: $(missing_packages | paste -sd' ')"
    if [[ " $missing " == *" mosquitto "* ]]; then
        stop_system_mosquitto
    fi
}

# Debian's mosquitto package starts its own broker on 1883 where an init system runs.
# We run our own broker with our own config, so that one is stopped and disabled.
stop_system_mosquitto() {
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
        if systemctl is-enabled --quiet mosquitto 2>/dev/null || systemctl is-active --quiet mosquitto 2>/dev/null; then
            say "disabling Debian's system mosquitto service"
            systemctl disable --now mosquitto >/dev/null 2>&1 || warn "could not disable the system mosquitto service"
        fi
        return 0
    fi
    local pid
    for pid in $(pids_running "mosquitto -c /etc/mosquitto/mosquitto.conf"); do
        [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == mosquitto ]] || continue
        say "stopping Debian's system mosquitto (pid $pid)"
        stop_pid "system mosquitto" "$pid" 10
    done
}

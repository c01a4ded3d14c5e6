# shellcheck shell=bash
# Shared settings and helpers of deploy/local/*.sh. Sourced, never run.
#
# Environment overrides (all optional):
#   METERWATCH_STATE_DIR               data, logs, pid files    (default: <repo>/.state)
#   METERWATCH_MQTT_PORT               Mosquitto listener       (default: 1883)
#   METERWATCH_KAFKA_PORT              Kafka PLAINTEXT listener (default: 9092)
#   METERWATCH_KAFKA_CONTROLLER_PORT   Kafka KRaft controller   (default: 9093)
#   METERWATCH_PG_PORT                 PostgreSQL               (default: 5432)

MW_DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MW_REPO_DIR="$(cd "$MW_DEPLOY_DIR/../.." && pwd)"
MW_STATE_DIR="$(realpath -m "${METERWATCH_STATE_DIR:-$MW_REPO_DIR/.state}")"
MW_MQTT_PORT="${METERWATCH_MQTT_PORT:-1883}"
MW_KAFKA_PORT="${METERWATCH_KAFKA_PORT:-9092}"
MW_KAFKA_CONTROLLER_PORT="${METERWATCH_KAFKA_CONTROLLER_PORT:-9093}"
MW_PG_PORT="${METERWATCH_PG_PORT:-5432}"
# shellcheck disable=SC2034  # used by the files that source this one
MW_LOG_DIR="$MW_STATE_DIR/logs"

say() { printf '[services] %s\n' "$*"; }
warn() { printf '[services] warning: %s\n' "$*" >&2; }
die() {
    printf '[services] error: %s\n' "$*" >&2
    exit 1
}

check_port_number() { # NAME VALUE
    if ! [[ "$2" =~ ^[0-9]{1,5}$ ]] || ((10#$2 < 1 || 10#$2 > 65535)); then
        die "$1 must be a TCP port number (1-65535), got '$2'"
    fi
}

check_settings() {
    check_port_number METERWATCH_MQTT_PORT "$MW_MQTT_PORT"
    check_port_number METERWATCH_KAFKA_PORT "$MW_KAFKA_PORT"
    check_port_number METERWATCH_KAFKA_CONTROLLER_PORT "$MW_KAFKA_CONTROLLER_PORT"
    check_port_number METERWATCH_PG_PORT "$MW_PG_PORT"
    local ports="$MW_MQTT_PORT $MW_KAFKA_PORT $MW_KAFKA_CONTROLLER_PORT $MW_PG_PORT"
    [[ $(tr ' ' '\n' <<<"$ports" | sort -u | wc -l) -eq 4 ]] ||
        die "the four ports must differ, got $ports"
    [[ "$MW_STATE_DIR" != / ]] || die "METERWATCH_STATE_DIR must not be /"
}

is_root() { [[ $EUID -eq 0 ]]; }

# PostgreSQL and Mosquitto drop root privileges (to the `postgres` and `mosquitto` users),
# so they must be able to reach their data and log files. When the state dir lies below a
# directory that other users cannot search (say a clone under /root), their files go to
# /var/lib/meterwatch/<hash of the state dir> instead, linked from the state dir.
daemon_dir() {
    local dir="$MW_STATE_DIR"
    while [[ ! -d "$dir" ]]; do dir="$(dirname "$dir")"; done
    if ! is_root || runuser -u nobody -- test -x "$dir"; then
        echo "$MW_STATE_DIR"
    else
        echo "/var/lib/meterwatch/$(printf '%s' "$MW_STATE_DIR" | sha256sum | cut -c1-16)"
    fi
}
MW_DAEMON_DIR="$(daemon_dir)"
# shellcheck disable=SC2034  # used by the files that source this one
MW_DAEMON_LOG_DIR="$MW_DAEMON_DIR/logs"

# Makes NAME under the state dir a link to the same name under the daemon dir, if those
# differ, so that every file of the services is found under the state dir.
link_into_state_dir() { # NAME
    [[ "$MW_DAEMON_DIR" != "$MW_STATE_DIR" ]] || return 0
    mkdir -p "$(dirname "$MW_STATE_DIR/$1")"
    ln -sfn "$MW_DAEMON_DIR/$1" "$MW_STATE_DIR/$1"
}

# Runs a command as OS user $1 when we are root, else as ourselves.
as_user() { # USER CMD...
    local user="$1"
    shift
    if is_root; then
        (cd / && runuser -u "$user" -- "$@")
    else
        "$@"
    fi
}

# The command line of a live process, with NULs turned into spaces; empty if it is gone.
proc_cmdline() { # PID
    [[ "$1" =~ ^[0-9]+$ ]] && [[ -r "/proc/$1/cmdline" ]] || return 0
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | sed 's/ $//' || true
}

# True if PID is alive and its command line contains NEEDLE (guards against PID reuse).
pid_runs() { # PID NEEDLE
    local cmdline
    cmdline="$(proc_cmdline "$1")"
    [[ -n "$cmdline" && "$cmdline" == *"$2"* ]]
}

# PIDs of all live processes whose command line contains NEEDLE.
pids_running() { # NEEDLE
    local dir
    for dir in /proc/[0-9]*; do
        if pid_runs "${dir#/proc/}" "$1"; then echo "${dir#/proc/}"; fi
    done
}

# The PID read from a pid file, if the process lives and matches NEEDLE; else nothing.
pid_from_file() { # FILE NEEDLE
    local pid
    [[ -r "$1" ]] || return 0
    pid="$(head -n 1 "$1" | tr -d '[:space:]')"
    if pid_runs "$pid" "$2"; then echo "$pid"; fi
}

# Whether anything listens on TCP PORT, on any address.
port_listening() { # PORT
    [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
}

# PIDs of the processes listening on TCP PORT (needs root to see other users' sockets).
port_owner_pids() { # PORT
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}

describe_port_owner() { # PORT
    local pid found=""
    for pid in $(port_owner_pids "$1"); do
        found=1
        printf 'pid %s: %s\n' "$pid" "$(proc_cmdline "$pid")"
    done
    [[ -n "$found" ]] || echo "an unknown process"
}

require_free_port() { # SERVICE PORT VARIABLE
    if port_listening "$2"; then
        die "$1 cannot listen on 127.0.0.1:$2: the port is taken by $(describe_port_owner "$2" | paste -sd';'). Stop that process or set $3 to another port."
    fi
}

# Polls CMD every half second until it succeeds or TIMEOUT seconds have passed.
wait_until() { # TIMEOUT CMD...
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# SIGTERM, then up to GRACE seconds for the process to exit, then SIGKILL.
stop_pid() { # NAME PID GRACE
    local name="$1" pid="$2" grace="$3"
    kill -TERM "$pid" 2>/dev/null || return 0
    if ! wait_until "$grace" pid_gone "$pid"; then
        warn "$name (pid $pid) still running after ${grace}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_until 10 pid_gone "$pid" || die "$name (pid $pid) survived SIGKILL"
    fi
}

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# Copies TEMPLATE to OUT with every @KEY@ replaced by its value.
# Sets MW_RENDER_CHANGED to 1 if OUT was written (new or different), else to 0.
MW_RENDER_CHANGED=0
render() { # TEMPLATE OUT KEY=VALUE...
    local template="$1" out="$2" text pair
    shift 2
    text="$(<"$template")"
    for pair in "$@"; do
        text="${text//@${pair%%=*}@/${pair#*=}}"
    done
    MW_RENDER_CHANGED=0
    if [[ ! -f "$out" ]] || [[ "$(<"$out")" != "$text" ]]; then
        printf '%s\n' "$text" >"$out"
        # shellcheck disable=SC2034  # read by the callers
        MW_RENDER_CHANGED=1
    fi
}

show_log_tail() { # FILE
    if [[ -r "$1" ]]; then
        printf '[services] last lines of %s:\n' "$1" >&2
        tail -n 25 "$1" | sed 's/^/    /' >&2
    fi
}

# Creates FILE (if missing) owned by USER, for a daemon that drops root privileges.
touch_owned() { # FILE USER
    [[ -e "$1" ]] || : >"$1"
    if is_root; then chown "$2": "$1"; fi
}

# Fails unless OS user USER can reach and write DIR (every parent must be searchable).
require_writable_by() { # DIR USER
    is_root || return 0
    runuser -u "$2" -- test -w "$1" -a -x "$1" ||
        die "user '$2' cannot write $1 (a parent directory is probably not searchable by others). Set METERWATCH_STATE_DIR to a directory under a world-searchable path, e.g. /var/tmp/meterwatch."
}

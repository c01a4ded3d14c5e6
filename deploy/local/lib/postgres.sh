# shellcheck shell=bash
# PostgreSQL: our own cluster under $STATE/postgres, run by the `postgres` OS user when we
# are root (the server refuses to run as root). Sourced by services.sh after lib/common.sh
# and lib/packages.sh.

PG_DIR="$MW_DAEMON_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_LOG="$MW_DAEMON_LOG_DIR/postgres.log"
PG_OS_USER="$(if is_root; then echo postgres; else id -un; fi)"

# The server binaries: those of the cluster's major version once it exists, else the newest.
pg_bin() {
    local version
    if [[ -r "$PG_DATA/PG_VERSION" ]]; then
        version="$(<"$PG_DATA/PG_VERSION")"
        [[ -x "/usr/lib/postgresql/$version/bin/postgres" ]] ||
            die "the cluster in $PG_DATA is PostgreSQL $version, whose server is not installed (apt-get install postgresql-$version)"
        echo "/usr/lib/postgresql/$version/bin"
    else
        newest_pg_bin
    fi
}

# A Unix socket path is limited to 107 bytes; a deep state dir falls back to Debian's dir.
pg_socket_dir() {
    local dir="$PG_DIR/run"
    if ((${#dir} + 20 > 107)); then dir=/var/run/postgresql; fi
    echo "$dir"
}

pg_pid() {
    [[ -r "$PG_DATA/postmaster.pid" ]] || return 0
    pid_from_file "$PG_DATA/postmaster.pid" "$PG_DATA"
}

pg_ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$MW_PG_PORT" -t 2; }

# A real query, as the application role over TCP with its password.
pg_answers() {
    [[ "$(PGPASSWORD=meterwatch PGCONNECT_TIMEOUT=3 "$(pg_bin)/psql" -XAtq \
        -h 127.0.0.1 -p "$MW_PG_PORT" -U meterwatch -d meterwatch \
        -c 'SELECT 1' 2>/dev/null)" == 1 ]]
}

pg_admin_psql() { # ARGS...
    as_user "$PG_OS_USER" "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$(pg_socket_dir)" -p "$MW_PG_PORT" -U postgres -d postgres "$@"
}

MW_PG_CREATED=0
pg_initdb() {
    say "creating the PostgreSQL cluster in $PG_DATA"
    MW_PG_CREATED=1
    as_user "$PG_OS_USER" "$(pg_bin)/initdb" -D "$PG_DATA" -U postgres -E UTF8 --no-locale \
        --auth-local=peer --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 ||
        {
            show_log_tail "$PG_LOG"
            die "initdb failed"
        }
    printf "\n# meterwatch (deploy/local/services.sh)\ninclude_if_exists = 'meterwatch.conf'\n" |
        as_user "$PG_OS_USER" tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

pg_preload() {
    if [[ -e "$("$(pg_bin)/pg_config" --pkglibdir 2>/dev/null)/timescaledb.so" ]]; then
        echo timescaledb
    fi
}

pg_prepare() {
    local socket_dir changed=0 name
    socket_dir="$(pg_socket_dir)"
    mkdir -p "$PG_DIR" "$socket_dir" "$MW_DAEMON_LOG_DIR"
    if is_root; then chown "$PG_OS_USER": "$PG_DIR" "$socket_dir"; fi
    chmod 700 "$PG_DIR"
    touch_owned "$PG_LOG" "$PG_OS_USER"
    link_into_state_dir postgres
    link_into_state_dir logs/postgres.log
    require_writable_by "$PG_DIR" "$PG_OS_USER"
    [[ -e "$PG_DATA/PG_VERSION" ]] || pg_initdb
    render "$MW_DEPLOY_DIR/postgres/postgresql.conf" "$PG_DATA/meterwatch.conf" \
        "PG_PORT=$MW_PG_PORT" "SOCKET_DIR=$socket_dir" "PRELOAD=$(pg_preload)"
    changed=$((changed + MW_RENDER_CHANGED))
    render "$MW_DEPLOY_DIR/postgres/pg_hba.conf" "$PG_DATA/pg_hba.conf"
    changed=$((changed + MW_RENDER_CHANGED))
    render "$MW_DEPLOY_DIR/postgres/pg_ident.conf" "$PG_DATA/pg_ident.conf" "OS_USER=$PG_OS_USER"
    changed=$((changed + MW_RENDER_CHANGED))
    if is_root; then
        for name in meterwatch.conf pg_hba.conf pg_ident.conf; do
            chown "$PG_OS_USER": "$PG_DATA/$name"
        done
    fi
    MW_RENDER_CHANGED=$((changed > 0))
}

# Unless ours runs, the port must be free: a Debian cluster on 5432 is left alone.
pg_preflight() {
    [[ -n "$(pg_pid)" ]] || require_free_port postgres "$MW_PG_PORT" METERWATCH_PG_PORT
}

# Starts the server unless ours runs already, and waits until it accepts connections.
pg_start() {
    local pid
    pg_prepare
    pid="$(pg_pid)"
    if [[ -n "$pid" ]]; then
        if ((MW_RENDER_CHANGED)); then
            warn "postgres config changed while it runs (pid $pid); run 'services.sh down' then 'up' to apply it"
        fi
        return 0
    fi
    say "starting postgres $(basename "$(dirname "$(pg_bin)")") on 127.0.0.1:$MW_PG_PORT"
    as_user "$PG_OS_USER" setsid -w "$(pg_bin)/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -s 9>&- ||
        {
            show_log_tail "$PG_LOG"
            die "postgres did not start within 60 s"
        }
}

# Waits until the server answers, creating the role and database on first use.
pg_wait() {
    wait_until 30 pg_ready || {
        show_log_tail "$PG_LOG"
        die "postgres does not accept connections on 127.0.0.1:$MW_PG_PORT after 30 s"
    }
    # A fresh cluster has no role yet: skip the login attempt that would only log a FATAL.
    if ((MW_PG_CREATED == 0)) && pg_answers; then return 0; fi
    say "creating role and database 'meterwatch'"
    pg_admin_psql -f "$MW_DEPLOY_DIR/postgres/bootstrap.sql" >/dev/null
    pg_answers || die "postgres answers, but 'meterwatch' cannot log in and query over TCP"
}

pg_stop() {
    local pid
    pid="$(pg_pid)"
    if [[ -z "$pid" ]]; then
        say "postgres is not running"
        return 0
    fi
    say "stopping postgres (pid $pid)"
    as_user "$PG_OS_USER" "$(pg_bin)/pg_ctl" stop -D "$PG_DATA" -m fast -t 30 -w -s && return 0
    warn "postgres did not stop within 30 s in fast mode, trying immediate mode"
    as_user "$PG_OS_USER" "$(pg_bin)/pg_ctl" stop -D "$PG_DATA" -m immediate -t 10 -w -s && return 0
    stop_pid postgres "$pid" 1
}

pg_status() {
    local pid
    pid="$(pg_pid)"
    if [[ -n "$pid" ]] && pg_answers; then
        say "postgres   up    postgresql://meterwatch@127.0.0.1:$MW_PG_PORT/meterwatch (SELECT 1 ok, pid $pid)"
        return 0
    fi
    say "postgres   DOWN  postgresql://meterwatch@127.0.0.1:$MW_PG_PORT/meterwatch${pid:+ (pid $pid runs but does not answer)}"
    return 1
}

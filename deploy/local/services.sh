#!/usr/bin/env bash
# The local meterwatch services, run natively (no containers): Mosquitto, Apache Kafka 4.x
# (KRaft, single node) and PostgreSQL, all on 127.0.0.1, with their data and logs under
# one state directory. See deploy/local/README.md.
#
#   services.sh up       install what is missing, start what is not running, wait until
#                        every service answers (a second `up` is a quick no-op)
#   services.sh down     stop all three gracefully (bounded wait, then SIGKILL); data stays
#   services.sh status   exit 0 only if all three answer
#   services.sh reset    down, then delete all data and logs (the Maven jars are kept)
#
# Environment: METERWATCH_STATE_DIR, METERWATCH_MQTT_PORT, METERWATCH_KAFKA_PORT,
# METERWATCH_KAFKA_CONTROLLER_PORT, METERWATCH_PG_PORT (see lib/common.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
# shellcheck source=lib/packages.sh
source "$here/lib/packages.sh"
# shellcheck source=lib/mosquitto.sh
source "$here/lib/mosquitto.sh"
# shellcheck source=lib/postgres.sh
source "$here/lib/postgres.sh"
# shellcheck source=lib/kafka.sh
source "$here/lib/kafka.sh"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

# One `up`/`down`/`reset` at a time per state dir (the Makefile and tests may race).
# Every daemon is started with fd 9 closed (9>&-): a daemon inheriting the lock would hold
# it for as long as it runs.
take_lock() {
    mkdir -p "$MW_STATE_DIR"
    exec 9>"$MW_STATE_DIR/services.lock"
    flock -w 300 9 || die "another services.sh holds $MW_STATE_DIR/services.lock"
}

status_all() {
    local failed=0
    mosquitto_status || failed=1
    kafka_status || failed=1
    pg_status || failed=1
    return "$failed"
}

cmd_up() {
    local started=$SECONDS
    take_lock
    ensure_packages
    # Check every port before starting anything, so that a conflict starts nothing.
    mosquitto_preflight
    pg_preflight
    kafka_preflight
    # Kafka takes longest: launch it first and let it boot while the others start.
    kafka_start
    pg_start
    mosquitto_start
    mosquitto_wait
    pg_wait
    kafka_wait
    status_all
    say "all services answer (${MW_STATE_DIR}, $((SECONDS - started)) s)"
}

cmd_down() {
    take_lock
    kafka_stop
    mosquitto_stop
    pg_stop
}

cmd_reset() {
    cmd_down
    local name
    for name in mosquitto postgres logs kafka/data kafka/server.properties kafka/kafka.pid; do
        rm -rf "${MW_STATE_DIR:?}/$name"
    done
    if [[ "$MW_DAEMON_DIR" != "$MW_STATE_DIR" ]]; then rm -rf "$MW_DAEMON_DIR"; fi
    say "deleted the data and logs under $MW_STATE_DIR (kept the Kafka jars in $KAFKA_LIBS)"
}

main() {
    check_settings
    case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) status_all ;;
    reset) cmd_reset ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"

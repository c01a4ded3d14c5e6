# shellcheck shell=bash
# Mosquitto: our own broker process, config and persistence under $STATE/mosquitto.
# Sourced by services.sh after lib/common.sh.

MQ_DIR="$MW_DAEMON_DIR/mosquitto"
MQ_CONF="$MQ_DIR/mosquitto.conf"
MQ_PID_FILE="$MQ_DIR/mosquitto.pid"
MQ_LOG="$MW_DAEMON_LOG_DIR/mosquitto.log"

mosquitto_pid() { pid_from_file "$MQ_PID_FILE" "$MQ_CONF"; }

# A real MQTT 5 round trip: connect, PUBLISH at QoS1, wait for the PUBACK.
mosquitto_answers() {
    timeout 5 mosquitto_pub -h 127.0.0.1 -p "$MW_MQTT_PORT" -V 5 -q 1 \
        -i "meterwatch-health-$$" -t meterwatch/health -n >/dev/null 2>&1
}

mosquitto_prepare() {
    mkdir -p "$MQ_DIR/data" "$MW_DAEMON_LOG_DIR"
    if is_root; then chown mosquitto: "$MQ_DIR" "$MQ_DIR/data"; fi
    touch_owned "$MQ_LOG" mosquitto
    link_into_state_dir mosquitto
    link_into_state_dir logs/mosquitto.log
    render "$MW_DEPLOY_DIR/mosquitto/mosquitto.conf" "$MQ_CONF" "MQTT_PORT=$MW_MQTT_PORT" \
        "MQ_DIR=$MQ_DIR" "LOG_FILE=$MQ_LOG" "CONF_DIR=$MW_DEPLOY_DIR/mosquitto"
}

# Unless ours runs: the port must be free (Debian's own broker is stopped if it holds it).
mosquitto_preflight() {
    [[ -z "$(mosquitto_pid)" ]] || return 0
    if port_listening "$MW_MQTT_PORT"; then
        stop_system_mosquitto
        require_free_port mosquitto "$MW_MQTT_PORT" METERWATCH_MQTT_PORT
    fi
}

# Starts the broker unless ours runs already. Does not wait for it.
mosquitto_start() {
    local pid
    mosquitto_prepare
    pid="$(mosquitto_pid)"
    if [[ -n "$pid" ]]; then
        if ((MW_RENDER_CHANGED)); then
            warn "mosquitto config changed while it runs (pid $pid); run 'services.sh down' then 'up' to apply it"
        fi
        return 0
    fi
    require_writable_by "$MQ_DIR/data" mosquitto
    rm -f "$MQ_PID_FILE"
    say "starting mosquitto on 127.0.0.1:$MW_MQTT_PORT"
    setsid -w /usr/sbin/mosquitto -c "$MQ_CONF" -d </dev/null >>"$MQ_LOG" 2>&1 9>&- ||
        {
            show_log_tail "$MQ_LOG"
            die "mosquitto failed to start"
        }
}

mosquitto_wait() {
    wait_until 20 mosquitto_answers || {
        show_log_tail "$MQ_LOG"
        die "mosquitto does not answer on 127.0.0.1:$MW_MQTT_PORT after 20 s"
    }
}

mosquitto_stop() {
    local pid
    pid="$(mosquitto_pid)"
    if [[ -z "$pid" ]]; then
        say "mosquitto is not running"
        return 0
    fi
    say "stopping mosquitto (pid $pid)"
    stop_pid mosquitto "$pid" 15
}

mosquitto_status() {
    local pid
    pid="$(mosquitto_pid)"
    if [[ -n "$pid" ]] && mosquitto_answers; then
        say "mosquitto  up    mqtt://127.0.0.1:$MW_MQTT_PORT (MQTT 5 QoS1 publish acked, pid $pid)"
        return 0
    fi
    say "mosquitto  DOWN  mqtt://127.0.0.1:$MW_MQTT_PORT${pid:+ (pid $pid runs but does not answer)}"
    return 1
}

# shellcheck shell=bash
# Apache Kafka 4.x, KRaft single node (broker + controller in one JVM), jars resolved by
# Maven from deploy/local/kafka/pom.xml into $STATE/kafka/libs.
# Sourced by services.sh and the kafka/*.sh helpers after lib/common.sh.

KAFKA_DIR="$MW_STATE_DIR/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_CONF="$KAFKA_DIR/server.properties"
KAFKA_PID_FILE="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$MW_LOG_DIR/kafka.log"
KAFKA_OUT="$MW_LOG_DIR/kafka.out"
KAFKA_POM="$MW_DEPLOY_DIR/kafka/pom.xml"
KAFKA_HEAP_OPTS=(-Xms512m -Xmx1g)

kafka_pid() { pid_from_file "$KAFKA_PID_FILE" "$KAFKA_CONF"; }

# Resolves the jars with Maven when they are missing or the pom changed since.
kafka_libs() {
    local stamp="$KAFKA_LIBS/.pom.sha256" want
    want="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
    if [[ -r "$stamp" && "$(<"$stamp")" == "$want" ]]; then return 0; fi
    say "resolving the Kafka jars with Maven (pom.xml changed or first use)"
    mkdir -p "$KAFKA_DIR"
    rm -rf "$KAFKA_LIBS.new"
    mkdir -p "$MW_LOG_DIR"
    mvn -B -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS.new" >"$MW_LOG_DIR/maven.log" 2>&1 ||
        {
            show_log_tail "$MW_LOG_DIR/maven.log"
            die "Maven could not resolve the Kafka jars from $KAFKA_POM"
        }
    echo "$want" >"$KAFKA_LIBS.new/.pom.sha256"
    rm -rf "$KAFKA_LIBS"
    mv "$KAFKA_LIBS.new" "$KAFKA_LIBS"
}

# Runs a Kafka class (a tool such as org.apache.kafka.tools.TopicCommand) in the foreground
# with the broker's jars; its logging goes to stderr at WARN.
kafka_run_class() { # CLASS ARGS...
    [[ -r "$KAFKA_LIBS/.pom.sha256" ]] ||
        die "the Kafka jars are not in $KAFKA_LIBS yet: run deploy/local/services.sh up first"
    java -Xmx512m -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$MW_DEPLOY_DIR/kafka/log4j2-tools.xml" \
        -cp "$KAFKA_LIBS/*" "$@"
}

# A real Kafka protocol check in pure bash: a Metadata v4 request for no topics, answered
# with the list of live brokers. Passes when the response carries our correlation id and
# at least one broker, i.e. the broker has registered with the KRaft controller.
kafka_answers() {
    # shellcheck disable=SC2016  # the script is expanded by the inner bash
    timeout 5 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        # size=17 | api_key=3 (Metadata) | version=4 | correlation_id=7 | client_id="mw"
        # | topics: empty array | allow_auto_topic_creation=false
        printf "\x00\x00\x00\x11\x00\x03\x00\x04\x00\x00\x00\x07\x00\x02mw\x00\x00\x00\x00\x00" >&3
        # size(4) | correlation_id(4) | throttle_time_ms(4) | brokers count(4)
        read -r -a b <<<"$(head -c 16 <&3 | od -An -v -tu1)"
        ((${#b[@]} == 16)) || exit 1
        ((b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 7)) || exit 1
        brokers=$(((b[12] << 24) | (b[13] << 16) | (b[14] << 8) | b[15]))
        ((brokers >= 1))
    ' kafka-probe "$MW_KAFKA_PORT" 2>/dev/null
}

kafka_prepare() {
    mkdir -p "$KAFKA_DIR" "$MW_LOG_DIR"
    kafka_libs
    render "$MW_DEPLOY_DIR/kafka/server.properties" "$KAFKA_CONF" "STATE_DIR=$MW_STATE_DIR" \
        "KAFKA_PORT=$MW_KAFKA_PORT" "CONTROLLER_PORT=$MW_KAFKA_CONTROLLER_PORT"
}

# Formats the log dir on the very first start only (meta.properties marks a formatted one).
kafka_format() {
    local cluster_id
    [[ -e "$KAFKA_DATA/meta.properties" ]] && return 0
    cluster_id="$(kafka_run_class kafka.tools.StorageTool random-uuid)"
    say "formatting Kafka storage in $KAFKA_DATA (cluster id $cluster_id)"
    kafka_run_class kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_CONF" \
        >>"$KAFKA_OUT" 2>&1 || {
        show_log_tail "$KAFKA_OUT"
        die "kafka.tools.StorageTool format failed"
    }
}

# Unless ours runs, both of its ports must be free.
kafka_preflight() {
    [[ -z "$(kafka_pid)" ]] || return 0
    require_free_port kafka "$MW_KAFKA_PORT" METERWATCH_KAFKA_PORT
    require_free_port "the kafka controller" "$MW_KAFKA_CONTROLLER_PORT" METERWATCH_KAFKA_CONTROLLER_PORT
}

# Starts the broker unless ours runs already. Does not wait for it.
kafka_start() {
    local pid
    kafka_prepare
    pid="$(kafka_pid)"
    if [[ -n "$pid" ]]; then
        if ((MW_RENDER_CHANGED)); then
            warn "kafka config changed while it runs (pid $pid); run 'services.sh down' then 'up' to apply it"
        fi
        return 0
    fi
    kafka_format
    say "starting kafka on 127.0.0.1:$MW_KAFKA_PORT (controller 127.0.0.1:$MW_KAFKA_CONTROLLER_PORT)"
    # setsid: the broker must outlive this script and its process group.
    # shellcheck disable=SC2016  # $$ is the inner bash, which then becomes java
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka-start "$KAFKA_PID_FILE" \
        java "${KAFKA_HEAP_OPTS[@]}" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
        -Djava.awt.headless=true -Dkafka.logs.dir="$MW_LOG_DIR" \
        -Dlog4j2.configurationFile="$MW_DEPLOY_DIR/kafka/log4j2.xml" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF" \
        </dev/null >>"$KAFKA_OUT" 2>&1 9>&- &
    wait_until 10 test -s "$KAFKA_PID_FILE" || die "kafka did not start (see $KAFKA_OUT)"
}

kafka_wait() {
    local deadline=$((SECONDS + 120))
    until kafka_answers; do
        if [[ -z "$(kafka_pid)" ]]; then
            show_log_tail "$KAFKA_LOG"
            show_log_tail "$KAFKA_OUT"
            die "kafka exited while starting"
        fi
        if ((SECONDS >= deadline)); then
            show_log_tail "$KAFKA_LOG"
            die "kafka does not answer a Metadata request on 127.0.0.1:$MW_KAFKA_PORT after 120 s"
        fi
        sleep 0.5
    done
}

kafka_stop() {
    local pid
    pid="$(kafka_pid)"
    if [[ -z "$pid" ]]; then
        say "kafka is not running"
        return 0
    fi
    say "stopping kafka (pid $pid)"
    stop_pid kafka "$pid" 60
}

kafka_status() {
    local pid
    pid="$(kafka_pid)"
    if [[ -n "$pid" ]] && kafka_answers; then
        say "kafka      up    127.0.0.1:$MW_KAFKA_PORT (Metadata request answered, pid $pid)"
        return 0
    fi
    say "kafka      DOWN  127.0.0.1:$MW_KAFKA_PORT${pid:+ (pid $pid runs but does not answer)}"
    return 1
}

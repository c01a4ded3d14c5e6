#!/usr/bin/env bash
# Kafka's own producer benchmark, org.apache.kafka.tools.ProducerPerformance, from the same
# jars as the local broker, against the local broker (127.0.0.1:$METERWATCH_KAFKA_PORT):
#
#   deploy/local/kafka/perf.sh --topic T --num-records N --record-size S [more options]
#
# Defaults added unless given: --throughput -1 (no throttling) and
# --producer-props bootstrap.servers=127.0.0.1:<port> acks=all.
# The topic must exist (the broker does not auto-create topics); create it with
#   deploy/local/kafka/kafka-run.sh org.apache.kafka.tools.TopicCommand \
#       --bootstrap-server 127.0.0.1:9092 --create --topic T --partitions 4
# Run `perf.sh --help` for all options of ProducerPerformance.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "$here/../lib/common.sh"
# shellcheck source=lib/kafka.sh
source "$here/../lib/kafka.sh"

args=("$@")
if [[ " ${args[*]} " != *" --throughput "* ]]; then
    args+=(--throughput -1)
fi
if [[ " ${args[*]} " != *" --producer-props "* && " ${args[*]} " != *" --producer.config "* ]]; then
    args+=(--producer-props "bootstrap.servers=127.0.0.1:$MW_KAFKA_PORT" acks=all)
fi
if [[ " ${args[*]} " == *" --help "* || " ${args[*]} " == *" -h "* ]]; then
    args=(--help)
fi
kafka_run_class org.apache.kafka.tools.ProducerPerformance "${args[@]}"

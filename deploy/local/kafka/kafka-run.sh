#!/usr/bin/env bash
# Runs any class from the local Kafka jars ($STATE/kafka/libs, resolved by `services.sh up`),
# with the tools' logging (WARN and above, on stderr). For example:
#
#   deploy/local/kafka/kafka-run.sh org.apache.kafka.tools.TopicCommand \
#       --bootstrap-server 127.0.0.1:9092 --create --topic t --partitions 4
#
# Honours METERWATCH_STATE_DIR like services.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "$here/../lib/common.sh"
# shellcheck source=lib/kafka.sh
source "$here/../lib/kafka.sh"

(($# >= 1)) || die "usage: kafka-run.sh CLASS [ARGS...]"
kafka_run_class "$@"

#!/usr/bin/env bash
# Local FinOps stack without containers: Kafka 3.9 (KRaft), Apicurio Registry (ccompat),
# PostgreSQL 15, Redis 7. See /work/shared/ARCHITECTURE.md "The real stack on one machine".
#
#   stack/stack.sh up | down | status | reset | logs <kafka|registry|postgres|redis>
#
# Data, logs and pid files live in ${FINOPS_STACK_DIR:-<repo>/.stack}.
# Java services run in their own session (setsid) so they outlive the shell that started them.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
DATA_DIR="${FINOPS_STACK_DIR:-$REPO_DIR/.stack}"
READY_TIMEOUT="${STACK_READY_TIMEOUT:-120}"
STOP_TIMEOUT="${STACK_STOP_TIMEOUT:-60}"
export DEBIAN_FRONTEND=noninteractive

KAFKA_VERSION=3.9.1
KAFKA_PORT=19092
KAFKA_CONTROLLER_PORT=19093
KAFKA_DIR="$DATA_DIR/kafka"
KAFKA_LIBS="$DATA_DIR/kafka-libs"

REGISTRY_VERSION=2.6.13.Final
REGISTRY_PORT=18081
REGISTRY_DIR="$DATA_DIR/registry"
REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"

PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=15432
PG_DIR="$DATA_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"

REDIS_PORT=16379
REDIS_DIR="$DATA_DIR/redis"

SERVICES=(kafka registry postgres redis)

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- helpers

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_ready <service> <log file> <command...>: polls the command until it succeeds.
wait_ready() {
  local name=$1 logfile=$2; shift 2
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "$name not ready after ${READY_TIMEOUT}s; last lines of $logfile:"
      tail -n 40 "$logfile" >&2 2>/dev/null || true
      die "$name failed to become ready"
    fi
    sleep 1
  done
}

# stop_pid <service> <pid file>: SIGTERM, wait, then SIGKILL.
stop_pid() {
  local name=$1 pidfile=$2 pid
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return 0; fi
  pid=$(cat "$pidfile")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "$name did not stop within ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.5
  done
  rm -f "$pidfile"
}

# Postgres refuses to run as root, so as root its commands run as the postgres user.
as_pg() {
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_packages() {
  local missing=() p
  for p in postgresql-15 postgresql-15-partman redis-server prometheus python3-confluent-kafka python3-avro; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]})); then
    [[ $EUID -eq 0 ]] || die "missing packages (${missing[*]}); run as root or install them"
    log "installing ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  for p in java mvn node curl; do
    command -v "$p" >/dev/null || die "'$p' is required but not installed"
  done
}

# ---------------------------------------------------------------- kafka

kafka_java() { java -cp "$KAFKA_LIBS/*" "$@"; }

kafka_ready() {
  if [[ -d "$REPO_DIR/node_modules/kafkajs" ]]; then
    # describeCluster issues a Metadata request: proves the broker serves metadata, not just that the port is open.
    KAFKAJS="$REPO_DIR/node_modules/kafkajs" timeout 15 node -e '
      const { Kafka, logLevel } = require(process.env.KAFKAJS);
      const admin = new Kafka({ clientId: "stack-probe", brokers: ["127.0.0.1:'"$KAFKA_PORT"'"],
        logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
      admin.connect().then(() => admin.describeCluster())
        .then((c) => { if (!c.brokers.length || c.controller === null) process.exit(1); return admin.disconnect(); })
        .then(() => process.exit(0), () => process.exit(1));'
  else
    # Before `npm ci`: broker log line + open port.
    pid_alive "$KAFKA_DIR/kafka.pid" &&
      grep -q 'Kafka Server started' "$KAFKA_DIR/logs/server.log" 2>/dev/null &&
      (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null
  fi
}

kafka_write_config() {
  mkdir -p "$KAFKA_DIR/logs" "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<EOF
node.id=1
process.roles=broker,controller
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=6
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
EOF
  cat >"$KAFKA_DIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
}

kafka_up() {
  if pid_alive "$KAFKA_DIR/kafka.pid"; then
    wait_ready kafka "$KAFKA_DIR/logs/server.log" kafka_ready
    return
  fi
  if ! ls "$KAFKA_LIBS"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1; then
    log "fetching Kafka $KAFKA_VERSION jars"
    mvn -q -B -Dstyle.color=never -f "$SCRIPT_DIR/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$KAFKA_LIBS" >&2
  fi
  kafka_write_config
  if [[ ! -f "$KAFKA_DIR/data/meta.properties" ]]; then
    [[ -f "$KAFKA_DIR/cluster.id" ]] || kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 >"$KAFKA_DIR/cluster.id"
    log "formatting Kafka storage (cluster id $(cat "$KAFKA_DIR/cluster.id"))"
    kafka_java -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
      kafka.tools.StorageTool format -t "$(cat "$KAFKA_DIR/cluster.id")" -c "$KAFKA_DIR/server.properties" >/dev/null
  fi
  log "starting kafka"
  setsid nohup java -Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
    >"$KAFKA_DIR/logs/kafka.out" 2>&1 </dev/null &
  echo $! >"$KAFKA_DIR/kafka.pid"
  wait_ready kafka "$KAFKA_DIR/logs/server.log" kafka_ready
}

kafka_down() { stop_pid kafka "$KAFKA_DIR/kafka.pid"; }

# ---------------------------------------------------------------- registry (Apicurio)

registry_ready() { curl -sf -o /dev/null "$REGISTRY_URL/subjects"; }

registry_up() {
  local runner="$REGISTRY_DIR/app/apicurio-registry-app-$REGISTRY_VERSION-runner.jar"
  if pid_alive "$REGISTRY_DIR/registry.pid"; then
    wait_ready registry "$REGISTRY_DIR/registry.log" registry_ready
    return
  fi
  if [[ ! -f "$runner" ]]; then
    log "fetching Apicurio Registry $REGISTRY_VERSION"
    mkdir -p "$REGISTRY_DIR/dist" "$REGISTRY_DIR/app"
    mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all" \
      -DoutputDirectory="$REGISTRY_DIR/dist" >&2
    tar -xzf "$REGISTRY_DIR/dist/apicurio-registry-app-$REGISTRY_VERSION-all.tar.gz" -C "$REGISTRY_DIR/app"
    rm -rf "$REGISTRY_DIR/dist"
  fi
  mkdir -p "$REGISTRY_DIR/db"
  log "starting registry"
  # The app's prod profile is SQL storage on H2; a file URL instead of the default jdbc:h2:mem keeps schemas
  # (and their ids) across restarts.
  HTTP_PORT=$REGISTRY_PORT \
  REGISTRY_DATASOURCE_URL="jdbc:h2:file:$REGISTRY_DIR/db/registry" \
    setsid nohup java -Xms128m -Xmx384m -XX:+UseG1GC -Djava.awt.headless=true \
      -Dquarkus.http.host=127.0.0.1 -Dquarkus.log.console.color=false \
      -Dquarkus.datasource.jdbc.min-size=2 -Dquarkus.datasource.jdbc.initial-size=2 \
      -jar "$runner" >"$REGISTRY_DIR/registry.log" 2>&1 </dev/null &
  echo $! >"$REGISTRY_DIR/registry.pid"
  wait_ready registry "$REGISTRY_DIR/registry.log" registry_ready
}

registry_down() { stop_pid registry "$REGISTRY_DIR/registry.pid"; }

# ---------------------------------------------------------------- postgres

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres; }
pg_running() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }
psql_admin() { "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

pg_write_config() {
  local dsm=posix
  # Small /dev/shm (64 MB in many containers) breaks parallel queries with posix DSM.
  (($(df -Pk /dev/shm 2>/dev/null | awk 'NR==2{print $2}' || echo 0) < 1048576)) && dsm=mmap
  local preload=""
  [[ -f /usr/lib/postgresql/15/lib/pg_partman_bgw.so ]] && preload="pg_partman_bgw"
  cat >"$PG_DATA/stack.conf" <<EOF
# Written by stack/stack.sh on every 'up'; tuned for a 2-core 24 GiB test/benchmark box.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 200
shared_buffers = 1GB
effective_cache_size = 12GB
work_mem = 16MB
maintenance_work_mem = 512MB
dynamic_shared_memory_type = $dsm
synchronous_commit = on
wal_level = replica
max_wal_size = 4GB
min_wal_size = 512MB
checkpoint_timeout = 15min
checkpoint_completion_target = 0.9
random_page_cost = 1.1
max_worker_processes = 8
shared_preload_libraries = '$preload'
pg_partman_bgw.dbname = 'finops'
pg_partman_bgw.role = 'postgres'
pg_partman_bgw.interval = 3600
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 1000
log_timezone = 'UTC'
timezone = 'UTC'
EOF
  chown_pg "$PG_DATA/stack.conf"
}

chown_pg() { [[ $EUID -ne 0 ]] || chown postgres:postgres "$@"; }

pg_up() {
  if ! pg_running; then
    mkdir -p "$PG_DIR" "$PG_SOCK"
    if [[ $EUID -eq 0 ]]; then
      chown -R postgres:postgres "$PG_DIR"
      # The postgres user must be able to traverse every ancestor of its data dir.
      local d="$PG_DIR"
      while [[ "$d" != / ]]; do d=$(dirname "$d"); chmod o+x "$d"; done
    fi
    if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
      log "initialising postgres cluster"
      as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=trust \
        -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 || { tail -n 20 "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
      echo "include_if_exists = 'stack.conf'" >>"$PG_DATA/postgresql.conf"
    fi
    pg_write_config
    log "starting postgres"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$READY_TIMEOUT" start >/dev/null ||
      { tail -n 40 "$PG_LOG" >&2; die "postgres failed to start"; }
  fi
  wait_ready postgres "$PG_LOG" pg_ready
  psql_admin <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'finops') THEN
    CREATE ROLE finops LOGIN CREATEDB PASSWORD 'finops';
  END IF;
END $$;
SELECT 'CREATE DATABASE finops OWNER finops' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'finops') \gexec
SELECT 'CREATE DATABASE finops_test OWNER finops' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'finops_test') \gexec
SQL
  # Group roles and one login per pipeline role (local passwords); grants come from the migrations.
  psql_admin -f "$SCRIPT_DIR/postgres-roles.sql"
}

pg_down() {
  pg_running || return 0
  log "stopping postgres"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null ||
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null
}

# ---------------------------------------------------------------- redis

redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING 2>/dev/null)" == PONG ]]; }

redis_up() {
  if ! pid_alive "$REDIS_DIR/redis.pid"; then
    mkdir -p "$REDIS_DIR"
    cat >"$REDIS_DIR/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
daemonize yes
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/redis.log
dir $REDIS_DIR
appendonly no
save ""
notify-keyspace-events ""
EOF
    log "starting redis"
    redis-server "$REDIS_DIR/redis.conf"
  fi
  wait_ready redis "$REDIS_DIR/redis.log" redis_ready
}

redis_down() { stop_pid redis "$REDIS_DIR/redis.pid"; }

# ---------------------------------------------------------------- commands

write_env() {
  cat >"$DATA_DIR/env" <<EOF
KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
SCHEMA_REGISTRY_URL=$REGISTRY_URL
DATABASE_URL=postgres://finops:finops@127.0.0.1:$PG_PORT/finops
# Least-privilege logins (docs/security.md); unset, each role uses DATABASE_URL.
# STORAGE_DATABASE_URL=postgres://finops_storage_login:finops_storage_login@127.0.0.1:$PG_PORT/finops
# API_DATABASE_URL=postgres://finops_api_login:finops_api_login@127.0.0.1:$PG_PORT/finops
REDIS_URL=redis://127.0.0.1:$REDIS_PORT
EOF
}

cmd_up() {
  ensure_packages
  mkdir -p "$DATA_DIR"
  # Redis and Postgres start in a second; Kafka and the registry (JVMs) are the slow ones.
  redis_up
  pg_up
  kafka_up
  registry_up
  write_env
  log "stack is up (data in $DATA_DIR)"
  cat "$DATA_DIR/env"
}

cmd_down() {
  registry_down
  kafka_down
  pg_down
  redis_down
}

cmd_status() {
  local ok=0 s state
  for s in "${SERVICES[@]}"; do
    case $s in
      kafka) kafka_ready ;;
      registry) registry_ready ;;
      postgres) pg_ready ;;
      redis) redis_ready ;;
    esac >/dev/null 2>&1 && state=up || { state=down; ok=1; }
    printf '%-9s %s\n' "$s" "$state"
  done
  return $ok
}

cmd_reset() {
  cmd_down
  log "wiping $DATA_DIR (downloaded jars are kept)"
  # Keep the fetched Kafka jars and registry app: they are not state and are slow to fetch.
  find "$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name kafka-libs ! -name registry -exec rm -rf {} +
  [[ -d "$REGISTRY_DIR" ]] && find "$REGISTRY_DIR" -mindepth 1 -maxdepth 1 ! -name app -exec rm -rf {} +
  return 0
}

cmd_logs() {
  local f
  case "${1:-}" in
    kafka) f="$KAFKA_DIR/logs/server.log" ;;
    registry) f="$REGISTRY_DIR/registry.log" ;;
    postgres) f="$PG_LOG" ;;
    redis) f="$REDIS_DIR/redis.log" ;;
    *) die "usage: $0 logs <kafka|registry|postgres|redis>" ;;
  esac
  [[ -f "$f" ]] || die "no log yet at $f"
  if [[ -t 1 ]]; then tail -n 100 -F "$f"; else tail -n 200 "$f"; fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  logs) shift; cmd_logs "$@" ;;
  *) echo "usage: $0 {up|down|status|reset|logs <service>}" >&2; exit 2 ;;
esac

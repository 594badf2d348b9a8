#!/usr/bin/env bash
# The local stack without Docker: ClickHouse, PostgreSQL and an S3 server (versitygw) on 127.0.0.1, and
# with OFFLOAD_STACK_REST=1 an Iceberg REST catalog (dev/rest-catalog.sh), every byte of state under
# $OFFLOAD_STACK_DIR (default .stack/). Usage: dev/stack.sh up|down|status|env|rest up|down|status
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STACK_DIR=${OFFLOAD_STACK_DIR:-$ROOT/.stack}
# The ports and bucket chosen at `up` are remembered here and used by every later command, so a shell
# without the OFFLOAD_STACK_* exports still finds the stack (see resolve_settings).
SETTINGS_FILE=$STACK_DIR/ports
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
# The stack's own credentials: local, loopback only, not secrets of any real system.
S3_KEY=offload-local
S3_SECRET=offload-local-secret
PG_PASSWORD=offload-local
# The S3 server: versitygw (Apache-2.0) on its posix backend, a bucket is a directory and an object a file,
# so objects survive `down`/`up` (moto kept them in memory) and it enforces conditional writes
# (If-None-Match: * → 412), which the metadata commit depends on. Built once with `go install`.
VERSITYGW_VERSION=v1.8.0
VERSITYGW_BIN=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/offload-stack/versitygw-$VERSITYGW_VERSION/versitygw

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: %s\n' "$*" >&2; exit 1; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() { # wait_for <what> <seconds> <command...>
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what did not come up within ${secs}s (logs in $STACK_DIR/logs)"
    sleep 0.2
  done
}

# start_daemon <pidfile> <cwd> <logfile> <command...>: the pid file holds the server's own pid (setsid
# execs in place here, since a script's background job is no process-group leader), and the server
# holds none of our stdio, so callers reading our output are not kept waiting.
start_daemon() {
  local pidf=$1 cwd=$2 logf=$3; shift 3
  (cd "$cwd" && exec setsid "$@" >>"$logf" 2>&1 </dev/null) &
  echo $! >"$pidf"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pg_alive() { local pm=$STACK_DIR/postgres/data/postmaster.pid; [ -f "$pm" ] && kill -0 "$(head -n1 "$pm")" 2>/dev/null; }
stack_running() { pid_alive "$STACK_DIR/clickhouse.pid" || pg_alive || pid_alive "$STACK_DIR/s3.pid"; }

# What can be chosen at `up`: "<name> <variable> <default>".
SETTINGS=(
  "CH_HTTP_PORT OFFLOAD_STACK_CH_HTTP_PORT 18123"
  "CH_TCP_PORT OFFLOAD_STACK_CH_TCP_PORT 19000"
  "PG_PORT OFFLOAD_STACK_PG_PORT 15432"
  "S3_PORT OFFLOAD_STACK_S3_PORT 19900"
  "BUCKET OFFLOAD_STACK_BUCKET warehouse"
  "REST_PORT OFFLOAD_STACK_REST_PORT 19910"
)

remembered_setting() { [ -f "$SETTINGS_FILE" ] && sed -n "s/^$1=//p" "$SETTINGS_FILE" | tail -n 1; return 0; }

# Each setting is, in order: the remembered value while a service of this stack runs (a running stack
# cannot move, so an export that differs is an error), else the export, else the remembered value, else
# the default.
resolve_settings() {
  local running=false conflicts=() names=() line name var def remembered explicit
  stack_running && running=true
  for line in "${SETTINGS[@]}"; do
    read -r name var def <<<"$line"
    remembered=$(remembered_setting "$name")
    explicit=${!var:-}
    if $running && [ -n "$remembered" ]; then
      if [ -n "$explicit" ] && [ "$explicit" != "$remembered" ]; then conflicts+=("$var=$explicit"); names+=("$var"); fi
      printf -v "$name" '%s' "$remembered"
    else
      printf -v "$name" '%s' "${explicit:-${remembered:-$def}}"
    fi
  done
  [ ${#conflicts[@]} -eq 0 ] || die "$STACK_DIR runs ClickHouse on $CH_HTTP_PORT (TCP $CH_TCP_PORT), PostgreSQL on $PG_PORT, S3 on $S3_PORT (bucket $BUCKET); the environment asks for ${conflicts[*]}: \`unset ${names[*]}\` to use the running stack (its ports are remembered in $SETTINGS_FILE), or \`npm run stack:down\` first to move it"
}

remember_settings() {
  local line name
  {
    echo "# Written by dev/stack.sh up: the ports and bucket of this stack, used by every later stack command."
    for line in "${SETTINGS[@]}"; do read -r name _ <<<"$line"; echo "$name=${!name}"; done
  } >"$SETTINGS_FILE.tmp"
  mv "$SETTINGS_FILE.tmp" "$SETTINGS_FILE"
}

# PostgreSQL refuses to run as root; as root we run it in a user namespace where it is uid 1000
# (files stay owned by root outside), so no chown or traversal rights on the checkout are needed.
as_pg() {
  if [ "$(id -u)" = 0 ]; then unshare -U --map-user=1000 --map-group=1000 "$@"; else "$@"; fi
}

install_missing() {
  local need_apt=()
  command -v /usr/sbin/clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] || need_apt+=(clickhouse-server clickhouse-client)
  [ -n "$PG_BIN" ] && [ -x "$PG_BIN/postgres" ] || need_apt+=(postgresql)
  command -v curl >/dev/null 2>&1 || need_apt+=(curl)
  if [ ${#need_apt[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing packages: ${need_apt[*]}. Install them: sudo apt-get install -y ${need_apt[*]}"
    log "installing ${need_apt[*]} (apt-get)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  fi
  [ -x "$VERSITYGW_BIN" ] || install_versitygw
}

# Go 1.21 or newer builds it (an older go than versitygw's go.mod asks for fetches that toolchain itself).
install_versitygw() {
  local go go_version dir=${VERSITYGW_BIN%/*}
  # Go's own tarball installs to /usr/local/go, which a non-login shell may not have on PATH.
  go=$(command -v go || echo /usr/local/go/bin/go)
  go_version=$("$go" env GOVERSION 2>/dev/null) || go_version=none
  [[ $go_version =~ ^go1\.([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 21 ] \
    || die "the S3 server (versitygw $VERSITYGW_VERSION) is built with Go 1.21 or newer (found: $go_version): install Go (https://go.dev/doc/install), then run this again"
  mkdir -p "$STACK_DIR/logs" "$dir"
  log "building the S3 server versitygw $VERSITYGW_VERSION (go install, once; a few minutes on 2 cores)"
  rm -rf "$dir.tmp"
  GOBIN=$dir.tmp "$go" install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >"$STACK_DIR/logs/versitygw-build.log" 2>&1 \
    || die "could not build versitygw $VERSITYGW_VERSION (see $STACK_DIR/logs/versitygw-build.log)"
  mv "$dir.tmp/versitygw" "$VERSITYGW_BIN" && rm -rf "$dir.tmp"
}

clickhouse_config() {
  local d=$STACK_DIR/clickhouse
  mkdir -p "$d/data/" "$d/tmp/" "$d/user_files/" "$d/format_schemas/" "$STACK_DIR/logs"
  cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$STACK_DIR/logs/clickhouse.log</log>
    <errorlog>$STACK_DIR/logs/clickhouse.err.log</errorlog>
    <size>50M</size>
    <count>2</count>
  </logger>
  <http_port>$CH_HTTP_PORT</http_port>
  <tcp_port>$CH_TCP_PORT</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <max_connections>256</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>64</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <format_schema_path>$d/format_schemas/</format_schema_path>
  <users_config>$d/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <max_session_timeout>3600</max_session_timeout>
  <default_session_timeout>60</default_session_timeout>
</yandex>
XML
  cat >"$d/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
}

up_clickhouse() {
  local pidf=$STACK_DIR/clickhouse.pid
  if pid_alive "$pidf"; then log "clickhouse already running (pid $(cat "$pidf"))"; return; fi
  port_busy "$CH_HTTP_PORT" && die "port $CH_HTTP_PORT is taken by another process; set OFFLOAD_STACK_CH_HTTP_PORT"
  clickhouse_config
  start_daemon "$pidf" "$STACK_DIR/clickhouse" "$STACK_DIR/logs/clickhouse.stdout.log" \
    /usr/sbin/clickhouse-server --config-file="$STACK_DIR/clickhouse/config.xml"
  wait_for "ClickHouse" 30 curl -sf "http://127.0.0.1:$CH_HTTP_PORT/ping"
  log "clickhouse up: http://127.0.0.1:$CH_HTTP_PORT"
}

up_postgres() {
  local data=$STACK_DIR/postgres/data sock=$STACK_DIR/postgres/sock
  mkdir -p "$STACK_DIR/postgres" "$sock" "$STACK_DIR/logs"
  if pg_alive; then log "postgres already running (pid $(head -n1 "$data/postmaster.pid"))"; return; fi
  port_busy "$PG_PORT" && die "port $PG_PORT is taken by another process; set OFFLOAD_STACK_PG_PORT"
  if [ ! -f "$data/PG_VERSION" ]; then
    local pwfile=$STACK_DIR/postgres/pwfile
    printf '%s\n' "$PG_PASSWORD" >"$pwfile"
    as_pg "$PG_BIN/initdb" -D "$data" -U offload --pwfile="$pwfile" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$STACK_DIR/logs/initdb.log" 2>&1 \
      || die "initdb failed (see $STACK_DIR/logs/initdb.log)"
    rm -f "$pwfile"
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sock'
max_connections = 200
shared_buffers = 128MB
fsync = on
log_min_messages = warning
CONF
  fi
  # Port and socket on the command line: a cluster made earlier follows today's OFFLOAD_STACK_PG_PORT.
  as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$STACK_DIR/logs/postgres.log" -o "-p $PG_PORT -k $sock" -w -t 30 start >/dev/null \
    || die "postgres did not start (see $STACK_DIR/logs/postgres.log)"
  PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U offload -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='offload'" | grep -q 1 \
    || PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U offload -d postgres -qc "CREATE DATABASE offload" >/dev/null
  log "postgres up: 127.0.0.1:$PG_PORT"
}

up_s3() {
  local pidf=$STACK_DIR/s3.pid data=$STACK_DIR/s3/data meta=$STACK_DIR/s3/meta
  mkdir -p "$data" "$meta" "$STACK_DIR/logs"
  if pid_alive "$pidf"; then
    log "s3 already running (pid $(cat "$pidf"))"
    # A stack started by an older dev/stack.sh runs moto, which keeps objects in memory only.
    if grep -qa moto_server "/proc/$(cat "$pidf")/cmdline" 2>/dev/null; then
      log "s3 is moto from an older dev/stack.sh: its objects do not survive down; \`npm run stack:down\`, then \`npm run stack:up\` moves to versitygw"
    fi
  else
    port_busy "$S3_PORT" && die "port $S3_PORT is taken by another process; set OFFLOAD_STACK_S3_PORT"
    # Buckets are directories under s3/data, objects files; ETags and headers live in s3/meta (no
    # extended attributes needed). No --keep-alive: with it, pyarrow's S3 client (the Python readers)
    # now and then got a bodiless 400 on a HeadObject that followed a put on the same connection.
    start_daemon "$pidf" "$STACK_DIR/s3" "$STACK_DIR/logs/s3.log" \
      env ROOT_ACCESS_KEY_ID="$S3_KEY" ROOT_SECRET_ACCESS_KEY="$S3_SECRET" \
      "$VERSITYGW_BIN" --port "127.0.0.1:$S3_PORT" --region us-east-1 --quiet --health /health \
      posix --sidecar "$meta" "$data"
    wait_for "S3 server (versitygw)" 30 curl -sf "http://127.0.0.1:$S3_PORT/health"
  fi
  # Create the bucket: 200, or 409 when this account has it already.
  local code
  code=$(curl -s -o "$STACK_DIR/logs/s3-bucket.xml" -w '%{http_code}' -X PUT --aws-sigv4 aws:amz:us-east-1:s3 \
    --user "$S3_KEY:$S3_SECRET" -H "x-amz-content-sha256: $(printf '' | sha256sum | cut -d' ' -f1)" \
    "http://127.0.0.1:$S3_PORT/$BUCKET") || code=none
  case $code in
    200 | 409) ;;
    *) die "could not create bucket $BUCKET on http://127.0.0.1:$S3_PORT (HTTP $code; see $STACK_DIR/logs/s3-bucket.xml and $STACK_DIR/logs/s3.log)" ;;
  esac
  log "s3 up: http://127.0.0.1:$S3_PORT (bucket $BUCKET, objects in $data)"
}

write_env() {
  cat >"$STACK_DIR/env" <<ENV
# Written by dev/stack.sh: connection settings of the local stack. Usage: source .stack/env
export CLICKHOUSE_URL=http://default:@127.0.0.1:$CH_HTTP_PORT
export DATABASE_URL=postgres://offload:$PG_PASSWORD@127.0.0.1:$PG_PORT/offload
export AWS_ACCESS_KEY_ID=$S3_KEY
export AWS_SECRET_ACCESS_KEY=$S3_SECRET
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$S3_PORT
export OFFLOAD_WAREHOUSE=s3://$BUCKET/iceberg
export OFFLOAD_CONFIG=$ROOT/offload.config.json
ENV
}

status() {
  local rc=0
  if pid_alive "$STACK_DIR/clickhouse.pid" && curl -sf "http://127.0.0.1:$CH_HTTP_PORT/ping" >/dev/null; then
    echo "clickhouse  running  pid $(cat "$STACK_DIR/clickhouse.pid")  http://127.0.0.1:$CH_HTTP_PORT"
  else echo "clickhouse  stopped"; rc=1; fi
  if pg_alive; then
    echo "postgres    running  pid $(head -n1 "$STACK_DIR/postgres/data/postmaster.pid")  127.0.0.1:$PG_PORT (database offload)"
  else echo "postgres    stopped"; rc=1; fi
  if pid_alive "$STACK_DIR/s3.pid" && curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/"; then
    echo "s3          running  pid $(cat "$STACK_DIR/s3.pid")  http://127.0.0.1:$S3_PORT (bucket $BUCKET)"
  else echo "s3          stopped"; rc=1; fi
  [ -f "$STACK_DIR/env" ] && echo "env         $STACK_DIR/env"
  return $rc
}

stop_pidfile() { # stop_pidfile <name> <pidfile>: only the process we started
  local pidf=$2
  if pid_alive "$pidf"; then
    local pid; pid=$(cat "$pidf")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    log "$1 stopped"
  fi
  rm -f "$pidf"
}

down() {
  stop_pidfile clickhouse "$STACK_DIR/clickhouse.pid"
  stop_pidfile s3 "$STACK_DIR/s3.pid"
  if pg_alive; then
    as_pg "$PG_BIN/pg_ctl" -D "$STACK_DIR/postgres/data" -m fast -w stop >/dev/null && log "postgres stopped"
  fi
}

# The Iceberg REST catalog server (opt-in): up_rest_catalog, down_rest_catalog, status_rest_catalog …
source "$ROOT/dev/rest-catalog.sh"

case "${1:-}" in
  up)
    mkdir -p "$STACK_DIR"
    resolve_settings
    remember_settings
    install_missing
    up_clickhouse
    up_postgres
    up_s3
    if rest_catalog_wanted; then up_rest_catalog; fi
    write_env
    if rest_catalog_wanted; then rest_catalog_env >>"$STACK_DIR/env"; fi
    log "ready: source $STACK_DIR/env"
    ;;
  down) resolve_settings; down_rest_catalog; down ;;
  status)
    resolve_settings
    rc=0
    status || rc=$?
    if rest_catalog_wanted || [ -f "$STACK_DIR/rest-catalog.pid" ]; then status_rest_catalog || rc=1; fi
    exit $rc
    ;;
  env) cat "$STACK_DIR/env" ;;
  rest)
    case "${2:-}" in
      up) OFFLOAD_STACK_REST=1 exec "$0" up ;;
      down) resolve_settings; down_rest_catalog ;;
      status) resolve_settings; status_rest_catalog ;;
      *) echo "usage: dev/stack.sh rest up|down|status" >&2; exit 2 ;;
    esac
    ;;
  *) echo "usage: dev/stack.sh up|down|status|env|rest up|down|status (OFFLOAD_STACK_REST=1 adds the REST catalog to up)" >&2; exit 2 ;;
esac

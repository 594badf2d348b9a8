#!/usr/bin/env bash
# The local stack's Iceberg REST catalog (opt-in: OFFLOAD_STACK_REST=1 dev/stack.sh up; on its own:
# dev/rest-catalog.sh up|down|status). Sourced by dev/stack.sh, whose helpers and settings it uses.
#
# The server is Apache Iceberg's own REST catalog (org.apache.iceberg.rest.RESTCatalogServer from the
# iceberg-open-api test-fixtures jar, the server Iceberg's REST compatibility kit runs against), with a
# JdbcCatalog backend in the stack's PostgreSQL (database $REST_DB, so its tables survive restarts) and
# S3FileIO on the stack's S3 server. Its runtime comes from Maven Central through dev/rest-catalog/pom.xml
# (`mvn dependency:build-classpath`, jars cached in ~/.m2, the classpath under $STACK_DIR/rest-catalog).
# Known limits of the fixture: it listens on every interface (no bind address setting), and it accepts
# any token (it issues OAuth2 client-credentials tokens at /v1/oauth/tokens but checks none).

# Run directly (dev/rest-catalog.sh up|down|status): the same as dev/stack.sh rest up|down|status.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then exec "$(dirname "$0")/stack.sh" rest "$@"; fi

# Its port (REST_PORT, OFFLOAD_STACK_REST_PORT) and the bucket are settings of dev/stack.sh (resolve_settings).
REST_DB=${OFFLOAD_STACK_REST_DB:-offload_rest}
REST_DIR=$STACK_DIR/rest-catalog
REST_POM=$ROOT/dev/rest-catalog/pom.xml
# Pinned: `mvn dependency:…` without a version would take whatever the local Maven defaults to.
REST_MVN_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
# A small heap and the client compiler only: a test server, started often, idle most of the time.
REST_JAVA_OPTS=${OFFLOAD_STACK_REST_JAVA_OPTS:--Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k}

rest_warehouse() { echo "s3://$BUCKET/rest"; }

# Started by `up` when asked for, and kept in `up`/`env` while it runs.
rest_catalog_wanted() {
  [ "${OFFLOAD_STACK_REST:-0}" = 1 ] || pid_alive "$STACK_DIR/rest-catalog.pid"
}

rest_install_missing() {
  local need=()
  command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || need+=(maven)
  [ ${#need[@]} -eq 0 ] && return
  [ "$(id -u)" = 0 ] || die "the REST catalog needs ${need[*]}: sudo apt-get install -y ${need[*]}"
  log "installing ${need[*]} (apt-get)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

# The server's classpath, resolved again only when the pom changed or a jar went missing from ~/.m2.
rest_classpath() {
  local cp=$REST_DIR/classpath.txt stamp=$REST_DIR/pom.sha256 want
  want=$(sha256sum "$REST_POM" | cut -d' ' -f1)
  if [ -s "$cp" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && tr ':' '\n' <"$cp" | while read -r jar; do [ -f "$jar" ] || exit 1; done; then
    return
  fi
  log "resolving the REST catalog server from Maven Central (~110 MB the first time, cached in ~/.m2)"
  mvn -B -q --no-transfer-progress -f "$REST_POM" "$REST_MVN_PLUGIN:build-classpath" -Dmdep.outputFile="$cp" \
    >"$STACK_DIR/logs/rest-catalog-maven.log" 2>&1 \
    || die "could not resolve the REST catalog server with Maven (see $STACK_DIR/logs/rest-catalog-maven.log); is Maven Central reachable?"
  echo "$want" >"$stamp"
}

rest_database() {
  PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U offload -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$REST_DB'" | grep -q 1 \
    || PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U offload -d postgres -qc "CREATE DATABASE $REST_DB" >/dev/null \
    || die "could not create database $REST_DB for the REST catalog"
}

up_rest_catalog() {
  local pidf=$STACK_DIR/rest-catalog.pid logf=$STACK_DIR/logs/rest-catalog.log
  mkdir -p "$REST_DIR" "$STACK_DIR/logs"
  if pid_alive "$pidf"; then log "rest catalog already running (pid $(cat "$pidf"))"; return; fi
  port_busy "$REST_PORT" && die "port $REST_PORT is taken by another process; set OFFLOAD_STACK_REST_PORT"
  rest_install_missing
  rest_classpath
  rest_database
  # The fixture reads its catalog properties from CATALOG_* variables (`__` → `-`, `_` → `.`).
  # shellcheck disable=SC2086
  start_daemon "$pidf" "$REST_DIR" "$logf" env \
    CATALOG_CATALOG_NAME=offload_rest \
    CATALOG_CATALOG__IMPL=org.apache.iceberg.jdbc.JdbcCatalog \
    CATALOG_URI="jdbc:postgresql://127.0.0.1:$PG_PORT/$REST_DB" \
    CATALOG_JDBC_USER=offload \
    CATALOG_JDBC_PASSWORD="$PG_PASSWORD" \
    CATALOG_JDBC_SCHEMA__VERSION=V1 \
    CATALOG_WAREHOUSE="$(rest_warehouse)" \
    CATALOG_IO__IMPL=org.apache.iceberg.aws.s3.S3FileIO \
    CATALOG_S3_ENDPOINT="http://127.0.0.1:$S3_PORT" \
    CATALOG_S3_PATH__STYLE__ACCESS=true \
    CATALOG_S3_ACCESS__KEY__ID="$S3_KEY" \
    CATALOG_S3_SECRET__ACCESS__KEY="$S3_SECRET" \
    CATALOG_CLIENT_REGION=us-east-1 \
    CATALOG_REST_PORT="$REST_PORT" \
    java $REST_JAVA_OPTS -cp "$(cat "$REST_DIR/classpath.txt")" org.apache.iceberg.rest.RESTCatalogServer
  local deadline=$((SECONDS + 120))
  until curl -sf "http://127.0.0.1:$REST_PORT/v1/config" >/dev/null 2>&1; do
    pid_alive "$pidf" || die "the REST catalog exited while starting (see $logf)"
    [ $SECONDS -lt $deadline ] || die "the REST catalog did not come up within 120s (see $logf)"
    sleep 0.2
  done
  log "rest catalog up: http://127.0.0.1:$REST_PORT (backend: database $REST_DB, warehouse $(rest_warehouse))"
}

down_rest_catalog() {
  stop_pidfile "rest catalog" "$STACK_DIR/rest-catalog.pid"
}

status_rest_catalog() {
  if pid_alive "$STACK_DIR/rest-catalog.pid" && curl -sf "http://127.0.0.1:$REST_PORT/v1/config" >/dev/null 2>&1; then
    echo "rest catalog running  pid $(cat "$STACK_DIR/rest-catalog.pid")  http://127.0.0.1:$REST_PORT (database $REST_DB, warehouse $(rest_warehouse))"
  else
    echo "rest catalog stopped"; return 1
  fi
}

# What .stack/env says about it. Not OFFLOAD_CATALOG_URI: pointing the offload at it is a choice.
rest_catalog_env() {
  echo "export OFFLOAD_STACK_REST_URI=http://127.0.0.1:$REST_PORT"
  echo "export OFFLOAD_STACK_REST_WAREHOUSE=$(rest_warehouse)"
}

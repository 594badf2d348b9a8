#!/usr/bin/env python3
"""A ClickHouse-HTTP-compatible test server backed by the current ClickHouse engine (chdb).

The only ClickHouse server package on the project's machines is 18.16, while production runs a
current ClickHouse. This server speaks enough of ClickHouse's HTTP interface for
`@clickhouse/client` and plain `fetch`, and executes every statement in chdb's embedded engine
(`SELECT version()` reports the engine's version), so the production dialect (DateTime64, Map,
Bool, Decimal128, query parameters, Parquet/Arrow output, ...) can be tested end to end.

Usage: chdb_server.py [--host 127.0.0.1] [--port 0] [--path DIR] [--pool 4] [--verbose]
                      [--exit-on-stdin-eof]
With --port 0 a free port is picked. Once ready, `LISTENING <port>` is printed on stdout. The
server runs until SIGTERM/SIGINT (or EOF on stdin with --exit-on-stdin-eof); the data directory
is a fresh temporary directory, removed on exit, unless --path is given.

What it does (see also NOT SUPPORTED below):
- GET /ping, GET / without a query, /replicas_status -> "Ok.\n".
- Queries on any other path via GET or POST: the query is the `query` URL parameter, the request
  body, or both (then, as in ClickHouse, `query` + "\n" + body). GET requests are read-only
  (Code 164, READONLY), as in ClickHouse, and so are requests with readonly=1|2.
- INSERT ... FORMAT <fmt> / INSERT ... VALUES: the data is whatever follows in the query text
  and/or the request body; it is streamed, byte for byte, into the engine's streaming inserter,
  so binary formats (RowBinary, Native, Parquet, ...) and large bodies work and are never held
  in memory when the INSERT head is in the `query` URL parameter (the @clickhouse/client way).
- Output formats: any the engine has; FORMAT in the query text wins, else `default_format`, else
  TabSeparated. Bytes come straight from the engine. SELECTs in row formats that concatenate
  block by block (TSV, TSVRaw, CSV, JSONEachRow, JSONCompactEachRow, JSONStringsEachRow,
  RowBinary, Native, LineAsString, RawBLOB) are streamed: the first ~1 MiB is buffered (errors
  before then are proper HTTP errors, small results get a Content-Length and a complete
  X-ClickHouse-Summary); larger results go out chunked as the engine produces them. Every other
  format (Parquet, Arrow, ArrowStream, ORC, JSON, *WithNames*, Values, Pretty, ...) and every
  query with `wait_end_of_query=1` is produced in one piece by the engine and then sent in
  chunks: chdb's streaming API starts a new format instance per block (a new Parquet file, a
  repeated header), which would not be the bytes ClickHouse sends. An error after the headers
  were sent is written the way ClickHouse >= 25.11 does (X-ClickHouse-Exception-Tag header,
  `__exception__` block), and the connection is then closed without finishing the response.
- Query parameters: `param_<name>=<value>` (URL or multipart/form-data body) are handed to the
  engine's own parameter binding for `{name:Type}`; values are parsed by the engine as typed
  values (escaped text, exactly like the ClickHouse server does), never spliced into the SQL.
- Settings as URL parameters: `database` (USE), `default_format`, and every engine setting
  (`output_format_*`, `input_format_*`, `date_time_input_format`, `max_*`, ...) are applied for
  the one request and restored afterwards. An unknown setting name is an error (Code 115), as in
  ClickHouse; a known setting the engine refuses to change is ignored (logged with --verbose).
  HTTP-interface parameters (`query_id`, `wait_end_of_query`, `session_timeout`, `compress`,
  `user`, `password`, `http_*`, `send_progress_in_http_headers`, ...) are accepted.
- Sessions: `session_id` gets its own engine connection (own current database, SET values,
  temporary tables), kept until `session_timeout` seconds (default 60) of idleness; a second
  concurrent request in the same session gets Code 373 (SESSION_IS_LOCKED), like ClickHouse.
  Requests without a session share a small pool of connections on the same data directory (so
  databases and tables are visible to all); as in ClickHouse, their settings, SET, USE and
  temporary tables end with the request.
- Compression: request bodies with Content-Encoding gzip/x-gzip/deflate are decompressed;
  responses are gzip/deflate-compressed only when `enable_http_compression=1` and the client's
  Accept-Encoding allows it.
- Headers: X-ClickHouse-Query-Id (the given query_id or a new UUID), X-ClickHouse-Format,
  X-ClickHouse-Summary, X-ClickHouse-Server-Display-Name, X-ClickHouse-Timezone (UTC; the engine
  runs with TZ=UTC), Keep-Alive; on errors X-ClickHouse-Exception-Code and a body like
  `Code: 62. DB::Exception: Syntax error: ... (SYNTAX_ERROR) (version 26.9.2.1)` with the HTTP
  status ClickHouse uses for that error (400, 404, 500, ...).
- Authentication (Basic, X-ClickHouse-User/Key, user/password parameters) is accepted and
  ignored; every query runs as `default`.
- A client that disconnects mid-result cancels the running query.

NOT SUPPORTED (or only partly):
- constant-memory output of the non-row formats above: a Parquet/Arrow/JSON/*WithNames* result
  is held in memory once; so is an INSERT whose statement head is in the body rather than in the
  `query` URL parameter (its data is then read with the body before it is inserted);
- ClickHouse's own `compress=1`/`decompress=1` block compression, and Content-Encodings other
  than gzip/deflate (br, zstd, lz4, xz: error Code 1, UNSUPPORTED_METHOD) — configure the client
  with compression off or gzip;
- external tables in multipart bodies; progress headers (X-ClickHouse-Progress);
- query parameters in the head of an INSERT ... FORMAT/VALUES (the engine's inserter has no
  parameter binding); query text that is not valid UTF-8 (replaced by U+FFFD);
- KILL QUERY by an HTTP query_id (the engine has its own ids; a client that disconnects cancels
  its query instead); a query_id already running is refused (Code 216), as in ClickHouse;
- GET / readonly restrictions come from the engine's statement classification, not from the
  engine's own `readonly` setting; users, roles, quotas, grants; TLS; /play, /dashboard, /metrics.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import string
import sys
import tempfile
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

# The engine reads the time zone once, at start-up: make it UTC like the production servers.
os.environ["TZ"] = "UTC"
if hasattr(time, "tzset"):
    time.tzset()

import chdb  # noqa: E402  (after TZ)
from chdb import session as chdb_session  # noqa: E402

READ_CHUNK = 1 << 20          # request body read size
FIRST_BUFFER = 1 << 20        # result bytes buffered before the headers are sent
WRITE_CHUNK = 1 << 20         # response write size for buffered bodies
KEEP_ALIVE_TIMEOUT = 10       # advertised in the Keep-Alive header (seconds)
SOCKET_TIMEOUT = 300          # idle/read timeout of a client connection (seconds)
DEFAULT_SESSION_TIMEOUT = 60

VERBOSE = False


def log(msg: str) -> None:
    if VERBOSE:
        sys.stderr.write(f"chdb_server: {msg}\n")
        sys.stderr.flush()


# --------------------------------------------------------------------------------------------
# Errors in ClickHouse's shape


class CHError(Exception):
    """An error to answer in ClickHouse's form: `Code: N. DB::Exception: msg. (NAME) (version V)`."""

    def __init__(self, code: int, name: str, message: str):
        super().__init__(message)
        self.code = code
        self.name = name
        self.message = message


ENGINE_VERSION = "unknown"

_PREFIX_RE = re.compile(r"^Code: (\d+)\. DB::Exception: ")
_VERSION_RE = re.compile(r" \(version \d+(?:\.\d+)+[^)]*\)")
_NAME_AT_END_RE = re.compile(r"\(([A-Z][A-Z0-9_]*)\)\s*$")


def from_engine_error(exc: BaseException) -> CHError:
    """Turns chdb's exception text into a CHError (code and name taken from the text)."""
    text = str(exc).strip()
    for wrapper in ("Streaming query failed: ", "Streaming insert append failed: ",
                    "Streaming insert finish failed: "):
        if text.startswith(wrapper):
            text = text[len(wrapper):]
    m = _PREFIX_RE.match(text)
    if not m:
        return CHError(1001, "STD_EXCEPTION", text or exc.__class__.__name__)
    code = int(m.group(1))
    prefix = m.group(0)
    body = text[len(prefix):]
    while body.startswith(prefix):  # the engine sometimes nests the same exception
        body = body[len(prefix):]
    body = _VERSION_RE.sub("", body).rstrip()
    name = "UNKNOWN_EXCEPTION"
    nm = _NAME_AT_END_RE.search(body)
    if nm:
        name = nm.group(1)
        tail = f". ({name})"
        while body.endswith(tail + tail):
            body = body[: -len(tail)]
        if body.endswith(tail):
            body = body[: -len(tail)]
        elif body.endswith(f" ({name})"):
            body = body[: -len(f" ({name})")]
    return CHError(code, name, body)


def error_text(err: CHError) -> str:
    """ClickHouse's form: the message, then `. (NAME) (version V)`."""
    msg = err.message.rstrip()
    return f"Code: {err.code}. DB::Exception: {msg}. ({err.name}) (version {ENGINE_VERSION})"


_STATUS_400 = {
    "BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE",
    "CANNOT_PARSE_QUOTED_STRING", "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME",
    "CANNOT_PARSE_NUMBER", "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING", "CANNOT_PARSE_IPV4",
    "CANNOT_PARSE_IPV6", "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "CANNOT_PARSE_UUID",
    "CANNOT_PARSE_BOOL", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN", "UNKNOWN_ELEMENT_IN_AST",
    "UNKNOWN_TYPE_OF_AST_NODE", "THERE_IS_NO_COLUMN", "TOO_DEEP_AST", "TOO_BIG_AST",
    "UNEXPECTED_AST_STRUCTURE", "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH",
    "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE", "BAD_QUERY_PARAMETER", "UNKNOWN_QUERY_PARAMETER",
    "CANNOT_READ_ALL_DATA", "ATTEMPT_TO_READ_AFTER_EOF",
}
_STATUS_404 = {
    "UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE", "UNKNOWN_STORAGE",
    "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_DIRECTION_OF_SORTING",
    "UNKNOWN_AGGREGATE_FUNCTION", "UNKNOWN_FORMAT", "UNKNOWN_DATABASE_ENGINE",
    "UNKNOWN_TYPE_OF_QUERY", "SESSION_NOT_FOUND",
}


def http_status_for(err: CHError) -> int:
    n = err.name
    if n == "REQUIRED_PASSWORD":
        return 401
    if n in ("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "SET_NON_GRANTED_ROLE"):
        return 403
    if n == "READONLY":
        return 500  # ClickHouse answers readonly violations with 500 (as 18.16 and 25.x do)
    if n in _STATUS_400:
        return 400
    if n in _STATUS_404:
        return 404
    if n == "QUERY_IS_TOO_LARGE":
        return 413
    if n == "NOT_IMPLEMENTED":
        return 501
    if n in ("SOCKET_TIMEOUT", "CANNOT_OPEN_FILE", "CANNOT_SCHEDULE_TASK"):
        return 503
    if n == "TIMEOUT_EXCEEDED":
        return 408
    if n == "SESSION_IS_LOCKED":
        return 500
    return 500


# --------------------------------------------------------------------------------------------
# A small SQL scanner: enough to find the statement kind, a trailing FORMAT clause and the
# start of inline INSERT data. It works on a latin-1 view of the bytes, so offsets are bytes.

_WORD_START = set(string.ascii_letters + "_") | {chr(c) for c in range(0x80, 0x100)}
_WORD_CHARS = _WORD_START | set(string.digits) | {"$"}


class Tok:
    __slots__ = ("kind", "start", "end", "text")

    def __init__(self, kind: str, start: int, end: int, text: str):
        self.kind = kind    # 'word', 'str', 'qident', 'num', 'punct'
        self.start = start
        self.end = end
        self.text = text

    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def tokens(s: str):
    """Yields tokens of SQL text `s` (comments and whitespace skipped); depth is tracked by callers."""
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        if ch in " \t\r\n\f\v":
            i += 1
            continue
        if ch == "-" and s.startswith("--", i) or ch == "#" and (s.startswith("#!", i) or s.startswith("# ", i)):
            j = s.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if ch == "/" and s.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if s.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif s.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            i = j
            continue
        if ch in "'\"`":
            j = i + 1
            while j < n:
                c = s[j]
                if c == "\\":
                    j += 2
                    continue
                if c == ch:
                    if j + 1 < n and s[j + 1] == ch:  # doubled quote
                        j += 2
                        continue
                    j += 1
                    break
                j += 1
            yield Tok("str" if ch == "'" else "qident", i, min(j, n), s[i:j])
            i = j
            continue
        if ch == "$":
            m = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$").match(s, i)
            if m:
                tag = m.group(0)
                j = s.find(tag, m.end())
                j = n if j < 0 else j + len(tag)
                yield Tok("str", i, j, s[i:j])
                i = j
                continue
        if ch in _WORD_START:
            j = i + 1
            while j < n and s[j] in _WORD_CHARS:
                j += 1
            yield Tok("word", i, j, s[i:j])
            i = j
            continue
        if ch.isdigit():
            j = i + 1
            while j < n and (s[j].isalnum() or s[j] in "._"):
                j += 1
            yield Tok("num", i, j, s[i:j])
            i = j
            continue
        yield Tok("punct", i, i + 1, ch)
        i += 1


def changes_session_state(kind: str, s: str) -> bool:
    """SET / USE / CREATE TEMPORARY TABLE ...: state that lives in the engine connection."""
    if kind in ("SET", "USE"):
        return True
    if kind == "CREATE":
        for i, t in enumerate(tokens(s)):
            if t.upper() == "TEMPORARY":
                return True
            if i >= 2:
                break
    return False


def first_keyword(s: str) -> str:
    for t in tokens(s):
        if t.kind == "punct" and t.text == "(":
            continue
        return t.upper()
    return ""


def output_format(s: str) -> str | None:
    """The FORMAT name of a (non-INSERT) statement: the last top-level `FORMAT <name>`."""
    depth = 0
    found = None
    toks = tokens(s)
    prev = None
    for t in toks:
        if t.kind == "punct":
            if t.text in "([{":
                depth += 1
            elif t.text in ")]}":
                depth -= 1
        elif depth == 0 and t.upper() == "FORMAT" and not (prev and prev.kind == "punct" and prev.text == "."):
            nxt = next(toks, None)
            if nxt is not None and nxt.kind in ("word", "qident"):
                found = nxt.text.strip("`\"")
            prev = nxt
            continue
        prev = t
    return found


class InsertSplit:
    __slots__ = ("head", "fmt", "data_start")

    def __init__(self, head: int, fmt: str, data_start: int):
        self.head = head            # offset where the statement head ends (before FORMAT/VALUES)
        self.fmt = fmt              # input format
        self.data_start = data_start  # offset of the first data byte


def split_insert(s: str) -> InsertSplit | None:
    """For `INSERT ... FORMAT x <data>` / `INSERT ... VALUES <data>`: where the data starts.
    None when `s` is not an INSERT, or an INSERT ... SELECT / FROM INFILE, or has no data clause
    (yet)."""
    depth = 0
    toks = tokens(s)
    first = True
    for t in toks:
        if first:
            if t.upper() != "INSERT":
                return None
            first = False
            continue
        if t.kind == "punct":
            if t.text in "([{":
                depth += 1
            elif t.text in ")]}":
                depth -= 1
            continue
        if depth != 0 or t.kind != "word":
            continue
        u = t.upper()
        if u in ("SELECT", "WITH", "INFILE"):
            return None
        if u == "VALUES":
            return InsertSplit(t.start, "Values", t.end)
        if u == "FORMAT":
            nxt = next(toks, None)
            if nxt is None or nxt.kind not in ("word", "qident"):
                return None
            pos = nxt.end
            n = len(s)
            # ClickHouse: data starts after the first newline, or after the whitespace.
            while pos < n and s[pos] in " \t\f":
                pos += 1
            if pos < n and s[pos] == "\r":
                pos += 1
            if pos < n and s[pos] == "\n":
                pos += 1
            return InsertSplit(t.start, nxt.text.strip("`\""), pos)
    return None


_CONTENT_TYPES = [
    (re.compile(r"^(TSV|TabSeparated)", re.I), "text/tab-separated-values; charset=UTF-8"),
    (re.compile(r"^CSV", re.I), "text/csv; charset=UTF-8; header=absent"),
    (re.compile(r"^(JSON|NDJSON)", re.I), "application/json; charset=UTF-8"),
    (re.compile(r"^(XML)$", re.I), "application/xml; charset=UTF-8"),
    (re.compile(r"^(Pretty|Vertical|Markdown|Values|Raw|Template|CustomSeparated|LineAsString)", re.I),
     "text/plain; charset=UTF-8"),
]


def content_type_for(fmt: str) -> str:
    for rx, ct in _CONTENT_TYPES:
        if rx.match(fmt):
            if ct.startswith("text/csv") and "withnames" in fmt.lower():
                return "text/csv; charset=UTF-8; header=present"
            return ct
    return "application/octet-stream"


# --------------------------------------------------------------------------------------------
# Engine connections


def sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Conn:
    """One chdb connection on the shared data directory, with its own session state."""

    def __init__(self, path: str, session_id: str | None = None):
        self.session = chdb_session.Session(path)
        self.c = self.session._conn._conn  # the engine's connection: bytes out, params, streams
        self.session_id = session_id
        self.lock = threading.Lock()
        self.last_used = time.monotonic()
        self.timeout = DEFAULT_SESSION_TIMEOUT
        self.baseline = dict(self._changed_settings())

    def run(self, sql: str, fmt: str = "TabSeparated", params: dict | None = None):
        try:
            return self.c.query(sql, fmt, params=params or {})
        except Exception as exc:  # the engine raises RuntimeError with ClickHouse's text
            raise from_engine_error(exc) from None

    def run_bytes(self, sql: str) -> bytes:
        return self.run(sql).bytes()

    def _changed_settings(self) -> list[tuple[str, str]]:
        out = self.c.query("SELECT name, value FROM system.settings WHERE changed FORMAT JSONCompactEachRow",
                           "JSONCompactEachRow", params={}).bytes()
        return [tuple(json.loads(line)) for line in out.splitlines() if line.strip()]

    def current_database(self) -> str:
        return self.run_bytes("SELECT currentDatabase()").decode().strip()

    def use(self, db: str) -> None:
        self.run("USE " + "`" + db.replace("\\", "\\\\").replace("`", "\\`") + "`")

    def settings_snapshot(self, names: list[str]) -> dict[str, str | None]:
        """name -> value if changed in this connection, None if at the engine default."""
        if not names:
            return {}
        if self.session_id is None:  # pooled connections are always at their baseline
            return {n: self.baseline.get(n) for n in names}
        lst = ", ".join(sql_string(n) for n in names)
        out = self.run_bytes(
            f"SELECT name, value, changed FROM system.settings WHERE name IN ({lst}) FORMAT JSONCompactEachRow")
        snap: dict[str, str | None] = {n: None for n in names}
        for line in out.splitlines():
            if line.strip():
                name, value, changed = json.loads(line)
                snap[name] = value if changed else None
        return snap

    def apply_settings(self, settings: list[tuple[str, str]]) -> list[str]:
        """SETs the given settings; returns the names applied. Unknown names -> CHError 115."""
        for name, _ in settings:
            if not _SETTING_NAME_RE.match(name):
                raise CHError(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
        if not settings:
            return []
        try:
            self.run("SET " + ", ".join(f"{n} = {sql_string(v)}" for n, v in settings))
            return [n for n, _ in settings]
        except CHError as err:
            if err.name == "UNKNOWN_SETTING":
                raise
        applied = []
        for name, value in settings:  # one by one: skip what the engine refuses to apply
            try:
                self.run(f"SET {name} = {sql_string(value)}")
                applied.append(name)
            except CHError as err:
                if err.name == "UNKNOWN_SETTING":
                    raise
                log(f"ignoring setting {name}={value!r}: {error_text(err)}")
        return applied

    def restore_settings(self, snapshot: dict[str, str | None]) -> None:
        if not snapshot:
            return
        parts = [f"{n} = {sql_string(v)}" if v is not None else f"{n} = DEFAULT" for n, v in snapshot.items()]
        try:
            self.run("SET " + ", ".join(parts))
        except CHError:
            for p in parts:
                try:
                    self.run("SET " + p)
                except CHError as err:
                    log(f"could not restore setting ({p}): {error_text(err)}")

    def close(self) -> None:
        try:
            self.session.close()
        except Exception:
            pass


class Engine:
    def __init__(self, path: str, pool_size: int):
        self.path = path
        self.pool: queue.Queue[Conn] = queue.Queue()
        self.all: list[Conn] = []
        for _ in range(pool_size):
            conn = Conn(path)
            self.all.append(conn)
            self.pool.put(conn)
        self.sessions: dict[str, Conn] = {}
        self.sessions_lock = threading.Lock()
        self.running_ids: set[str] = set()
        self.ids_lock = threading.Lock()

    def version(self) -> str:
        conn = self.pool.get()
        try:
            return conn.run_bytes("SELECT version()").decode().strip()
        finally:
            self.pool.put(conn)

    def recycle(self, conn: Conn) -> Conn:
        """A fresh pooled connection in place of one whose session state a statement changed
        (SET, USE, temporary tables): without session_id such state must not outlive the request."""
        fresh = Conn(self.path)
        self.all[self.all.index(conn)] = fresh
        conn.close()
        return fresh

    def session(self, session_id: str, timeout: int, check: bool) -> Conn:
        with self.sessions_lock:
            self._expire_sessions()
            conn = self.sessions.get(session_id)
            if conn is None:
                if check:
                    raise CHError(372, "SESSION_NOT_FOUND", f"Session {session_id} not found")
                conn = Conn(self.path, session_id)
                self.sessions[session_id] = conn
            conn.timeout = timeout
            conn.last_used = time.monotonic()
            return conn

    def _expire_sessions(self) -> None:
        now = time.monotonic()
        for sid, conn in list(self.sessions.items()):
            if not conn.lock.locked() and now - conn.last_used > conn.timeout:
                del self.sessions[sid]
                conn.close()

    def register_query_id(self, query_id: str) -> None:
        with self.ids_lock:
            if query_id in self.running_ids:
                raise CHError(216, "QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING",
                              f"Query with id = {query_id} is already running")
            self.running_ids.add(query_id)

    def release_query_id(self, query_id: str) -> None:
        with self.ids_lock:
            self.running_ids.discard(query_id)

    def close(self) -> None:
        with self.sessions_lock:
            for conn in self.sessions.values():
                conn.close()
            self.sessions.clear()
        for conn in self.all:
            conn.close()


ENGINE: Engine | None = None
ACTIVE = [0]  # requests being handled
ACTIVE_LOCK = threading.Lock()
DISPLAY_NAME = socket.gethostname()

# URL parameters that belong to the HTTP interface rather than to the engine's settings.
HTTP_PARAMS = {
    "query", "query_id", "database", "default_format", "session_id", "session_timeout",
    "session_check", "compress", "decompress", "buffer_size", "wait_end_of_query", "user",
    "password", "quota_key", "role", "stacktrace", "readonly", "enable_http_compression",
    "send_progress_in_http_headers", "cancel_http_readonly_queries_on_client_close",
    "default_role", "client_protocol_version", "query_kind", "add_http_cors_header",
}
HTTP_PARAM_PREFIXES = ("param_", "http_")

# The engine's streaming API starts a new output-format instance for every block it hands out, so
# only formats whose per-block outputs concatenate to the whole result (no prefix, suffix, header
# or row delimiter spanning blocks) are streamed; the others are produced in one piece.
STREAMABLE_FORMATS = {f.lower() for f in (
    "TabSeparated", "TSV", "TabSeparatedRaw", "TSVRaw", "Raw", "CSV", "JSONEachRow", "NDJSON",
    "JSONLines", "JSONStringsEachRow", "JSONCompactEachRow", "JSONCompactStringsEachRow", "RowBinary",
    "Native", "LineAsString", "RawBLOB",
)}
# Settings that would give those formats a prefix/suffix/delimiter.
_UNSTREAMABLE_SETTINGS_RE = re.compile(r"output_format_json_array_of_rows|format_custom_|format_template_", re.I)
READONLY_KINDS = {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "SET", "USE", "CHECK"}


# --------------------------------------------------------------------------------------------
# HTTP plumbing


class ClientGone(Exception):
    pass


class BodyReader:
    """Reads the request body (Content-Length or chunked), decompressing gzip/deflate."""

    def __init__(self, handler: BaseHTTPRequestHandler):
        self.rfile = handler.rfile
        h = handler.headers
        te = (h.get("Transfer-Encoding") or "").lower()
        self.chunked = "chunked" in te
        cl = h.get("Content-Length")
        self.remaining = int(cl) if cl and not self.chunked else 0
        self.done = not self.chunked and self.remaining == 0
        enc = (h.get("Content-Encoding") or "").strip().lower()
        self.inflater = None
        self.unconsumed = not self.done
        if enc in ("gzip", "x-gzip", "deflate"):
            self.inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib or gzip header
        elif enc not in ("", "identity"):
            self.done = True
            self.unconsumed = True
            raise CHError(1, "UNSUPPORTED_METHOD",
                          f"Unsupported Content-Encoding '{enc}' (this test server supports gzip and deflate)")

    def _raw_chunks(self):
        if self.chunked:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ClientGone()
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if not t or t in (b"\r\n", b"\n"):
                            break
                    return
                while size > 0:
                    data = self.rfile.read(min(size, READ_CHUNK))
                    if not data:
                        raise ClientGone()
                    size -= len(data)
                    yield data
                self.rfile.readline(3)  # CRLF after the chunk
        else:
            while self.remaining > 0:
                data = self.rfile.read(min(self.remaining, READ_CHUNK))
                if not data:
                    raise ClientGone()
                self.remaining -= len(data)
                yield data

    def chunks(self):
        if self.done:
            return
        try:
            for raw in self._raw_chunks():
                if self.inflater is not None:
                    try:
                        data = self.inflater.decompress(raw)
                    except zlib.error as exc:
                        raise CHError(354, "ZLIB_INFLATE_FAILED", f"inflate failed: {exc}") from None
                    if data:
                        yield data
                else:
                    yield raw
            if self.inflater is not None:
                tail = self.inflater.flush()
                if tail:
                    yield tail
            self.unconsumed = False
        finally:
            self.done = True

    def read_all(self) -> bytes:
        return b"".join(self.chunks())


class Response:
    """Writes one response: headers, then a body (Content-Length or chunked), maybe compressed."""

    def __init__(self, handler: "Handler", codec: str | None, level: int):
        self.h = handler
        self.codec = codec
        self.level = level
        self.started = False
        self.chunked = False
        self.compressor = None

    def _new_compressor(self):
        if self.codec == "gzip":
            return zlib.compressobj(self.level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        if self.codec == "deflate":
            return zlib.compressobj(self.level, zlib.DEFLATED, zlib.MAX_WBITS)
        return None

    def _send_headers(self, status: int, headers: list[tuple[str, str]], length: int | None):
        h = self.h
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        if self.codec:
            h.send_header("Content-Encoding", self.codec)
        if length is None:
            h.send_header("Transfer-Encoding", "chunked")
            self.chunked = True
        else:
            h.send_header("Content-Length", str(length))
        if h.close_connection or (h.body is not None and h.body.unconsumed):
            h.close_connection = True
            h.send_header("Connection", "close")
        else:
            h.send_header("Connection", "Keep-Alive")
            h.send_header("Keep-Alive", f"timeout={KEEP_ALIVE_TIMEOUT}, max=10000")
        h.end_headers()
        self.started = True

    def _write(self, data) -> None:
        try:
            self.h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError) as exc:
            raise ClientGone() from exc

    def send_full(self, status: int, headers: list[tuple[str, str]], body) -> None:
        """body: any bytes-like object."""
        if self.codec:
            comp = self._new_compressor()
            body = comp.compress(body) + comp.flush()
        self._send_headers(status, headers, len(body))
        if self.h.command == "HEAD":
            return
        mv = memoryview(body).cast("B")
        for i in range(0, len(mv), WRITE_CHUNK):
            self._write(mv[i:i + WRITE_CHUNK])

    def start_stream(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.compressor = self._new_compressor()
        self._send_headers(status, headers, None)

    def _write_chunk(self, data) -> None:
        n = data.nbytes if isinstance(data, memoryview) else len(data)
        if not n:
            return
        self._write(b"%x\r\n" % n)
        self._write(data)
        self._write(b"\r\n")

    def stream(self, data) -> None:
        if self.compressor is not None:
            data = self.compressor.compress(data)
        self._write_chunk(data)

    def end_stream(self) -> None:
        if self.compressor is not None:
            self._write_chunk(self.compressor.flush())
        self._write(b"0\r\n\r\n")

    def abort_stream_with_error(self, err: CHError, tag: str) -> None:
        """ClickHouse >= 25.11 style: an __exception__ block, then the connection is cut."""
        msg = (error_text(err) + "\n").encode("utf-8", "replace")
        block = (b"\r\n__exception__\r\n" + tag.encode() + b"\r\n" + msg
                 + str(len(msg)).encode() + b" " + tag.encode() + b"\r\n__exception__\r\n")
        try:
            if self.compressor is not None:
                self._write_chunk(self.compressor.compress(block) + self.compressor.flush(zlib.Z_SYNC_FLUSH))
            else:
                self._write_chunk(block)
        except ClientGone:
            pass
        self.h.close_connection = True


def summary(read_rows=0, read_bytes=0, written_rows=0, written_bytes=0, result_rows=0,
            result_bytes=0, elapsed=0.0) -> str:
    return json.dumps({
        "read_rows": str(read_rows), "read_bytes": str(read_bytes),
        "written_rows": str(written_rows), "written_bytes": str(written_bytes),
        "total_rows_to_read": str(read_rows), "result_rows": str(result_rows),
        "result_bytes": str(result_bytes), "elapsed_ns": str(int(elapsed * 1e9)),
    }, separators=(",", ":"))


def new_tag() -> str:
    return "".join(random.choice(string.ascii_letters + string.digits) for _ in range(16))


def parse_multipart(body: bytes, content_type: str) -> dict[str, str]:
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise CHError(36, "BAD_ARGUMENTS", "multipart/form-data without a boundary")
    boundary = b"--" + m.group(1).encode()
    fields: dict[str, str] = {}
    for part in body.split(boundary)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, _, value = part.partition(b"\r\n\r\n")
        if value.endswith(b"\r\n"):
            value = value[:-2]
        nm = re.search(rb'name="([^"]*)"', head)
        if not nm:
            continue
        if re.search(rb'filename="', head):
            raise CHError(48, "NOT_IMPLEMENTED", "external tables are not supported by this test server")
        fields[nm.group(1).decode()] = value.decode("utf-8", "surrogateescape")
    return fields


def to_engine_text(b: bytes) -> str:
    """Query text for the engine (it takes str): invalid UTF-8 becomes U+FFFD."""
    return b.decode("utf-8", "replace")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ClickHouse"

    def version_string(self):
        return self.server_version
    timeout = SOCKET_TIMEOUT
    body: "BodyReader | None" = None

    def log_message(self, format, *args):  # noqa: A002
        log("%s - %s" % (self.address_string(), format % args))

    def do_GET(self):
        self.handle_request()

    def do_POST(self):
        self.handle_request()

    def do_PUT(self):
        self.handle_request()

    def do_HEAD(self):
        self.handle_request()

    def do_OPTIONS(self):
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "origin, x-requested-with, x-clickhouse-format, "
                         "x-clickhouse-user, x-clickhouse-key, Authorization")
        self.send_header("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
        self.send_header("Content-Length", "0")
        self.end_headers()

    # ---- request handling

    def handle_request(self):
        with ACTIVE_LOCK:
            ACTIVE[0] += 1
        try:
            self._handle_request()
        finally:
            with ACTIVE_LOCK:
                ACTIVE[0] -= 1

    def _handle_request(self):
        url = urlsplit(self.path)
        pairs = parse_qsl(url.query, keep_blank_values=True, encoding="utf-8", errors="surrogateescape")
        params: dict[str, str] = {}
        for k, v in pairs:
            params[k] = v
        query_id = params.get("query_id") or str(uuid.uuid4())
        codec = None
        if params.get("enable_http_compression", "0") not in ("0", "", "false"):
            accept = (self.headers.get("Accept-Encoding") or "").lower()
            accepted = [a.split(";")[0].strip() for a in accept.split(",")]
            if "gzip" in accepted:
                codec = "gzip"
            elif "deflate" in accepted:
                codec = "deflate"
        try:
            level = max(1, min(9, int(params.get("http_zlib_compression_level", "3"))))
        except ValueError:
            level = 3
        resp = Response(self, codec, level)
        base_headers = [
            ("X-ClickHouse-Server-Display-Name", DISPLAY_NAME),
            ("X-ClickHouse-Query-Id", query_id),
            ("X-ClickHouse-Timezone", "UTC"),
        ]
        path = url.path
        body = self.body = None
        try:
            if path in ("/ping", "/replicas_status") or (path == "/" and "query" not in params
                                                           and self.command in ("GET", "HEAD")):
                resp.send_full(200, [("Content-Type", "text/html; charset=UTF-8")], b"Ok.\n")
                return
            if path in ("/play", "/dashboard", "/metrics", "/binary", "/merges", "/js"):
                self.close_connection = True
                resp.send_full(404, [("Content-Type", "text/plain; charset=UTF-8")],
                               b"There is no handle " + path.encode() + b" on this test server\n")
                return
            try:
                body = self.body = BodyReader(self)
            except CHError:
                self.close_connection = True  # the body stays unread
                raise
            if params.get("compress", "0") not in ("0", "") or params.get("decompress", "0") not in ("0", ""):
                raise CHError(1, "UNSUPPORTED_METHOD",
                              "ClickHouse block compression (compress/decompress) is not supported by this test server")
            self.run_query(params, query_id, body, resp, base_headers)
        except ClientGone:
            self.close_connection = True
        except CHError as err:
            self.send_error_response(resp, err, base_headers)
        except Exception as exc:  # a bug here: still answer like ClickHouse would
            log(f"internal error: {exc!r}")
            self.send_error_response(resp, CHError(1001, "STD_EXCEPTION", f"{exc.__class__.__name__}: {exc}"),
                                     base_headers)
        finally:
            if body is not None and body.unconsumed:
                self.close_connection = True

    def send_error_response(self, resp: Response, err: CHError, base_headers):
        log(f"error: {error_text(err)[:300]}")
        if resp.started:
            self.close_connection = True
            return
        headers = base_headers + [
            ("Content-Type", "text/plain; charset=UTF-8"),
            ("X-ClickHouse-Exception-Code", str(err.code)),
        ]
        try:
            resp.send_full(http_status_for(err), headers, (error_text(err) + "\n").encode("utf-8", "replace"))
        except ClientGone:
            self.close_connection = True

    def run_query(self, params: dict[str, str], query_id: str, body: BodyReader, resp: Response, base_headers):
        engine = ENGINE
        assert engine is not None
        query_param = params.get("query", "")
        ctype = (self.headers.get("Content-Type") or "").lower()
        qparams = {k[len("param_"):]: v for k, v in params.items() if k.startswith("param_")}

        # Where is the statement, and is there INSERT data to stream?
        head_bytes = (query_param + "\n").encode("utf-8", "surrogateescape") if query_param else b""
        split = split_insert(head_bytes.decode("latin-1")) if head_bytes else None
        stream_body = split is not None
        if stream_body:
            full = head_bytes
        else:
            raw = body.read_all()
            if ctype.startswith("multipart/form-data"):
                fields = parse_multipart(raw, ctype)
                raw = b""
                for k, v in fields.items():
                    if k == "query":
                        raw = v.encode("utf-8", "surrogateescape")
                    elif k.startswith("param_"):
                        qparams[k[len("param_"):]] = v
                    else:
                        params.setdefault(k, v)
            full = head_bytes + raw
            split = split_insert(full.decode("latin-1"))
        if not full.strip():
            raise CHError(62, "SYNTAX_ERROR", "Empty query")

        latin = full.decode("latin-1")
        if split is not None:
            sql_text = to_engine_text(full[:split.head])
            kind = "INSERT"
            out_fmt = None
        else:
            sql_text = to_engine_text(full)
            kind = first_keyword(latin)
            out_fmt = output_format(latin)
        fmt = out_fmt or params.get("default_format") or "TabSeparated"

        # Read-only requests (GET, readonly=1|2), checked once a connection is held
        readonly = self.command in ("GET", "HEAD") or params.get("readonly", "0") not in ("0", "")

        settings = [(k, v) for k, v in params.items()
                    if k not in HTTP_PARAMS and not k.startswith(HTTP_PARAM_PREFIXES)]
        wait_end = params.get("wait_end_of_query", "0") not in ("0", "") or \
            params.get("http_wait_end_of_query", "0") not in ("0", "", "false")

        session_id = params.get("session_id")
        if session_id:
            try:
                timeout = int(params.get("session_timeout", DEFAULT_SESSION_TIMEOUT))
            except ValueError:
                raise CHError(36, "BAD_ARGUMENTS", "Invalid session timeout") from None
            conn = engine.session(session_id, timeout, params.get("session_check", "0") not in ("0", ""))
            if not conn.lock.acquire(blocking=False):
                raise CHError(373, "SESSION_IS_LOCKED", f"Session {session_id} is locked by a concurrent client")
        else:
            conn = engine.pool.get()
        try:
            engine.register_query_id(query_id)
        except CHError:
            self.release(conn)
            raise
        try:
            if readonly and kind not in READONLY_KINDS:
                cls = None
                if kind != "INSERT":
                    try:
                        cls = conn.c.classify_query(sql_text)["query_class"].name
                    except Exception:
                        cls = None
                if cls not in ("READ_ONLY", "UNKNOWN"):
                    raise CHError(164, "READONLY", "default: Cannot execute query in readonly mode")
            database = params.get("database")
            prev_db = None
            if database:
                prev_db = conn.current_database() if conn.session_id else "default"
                conn.use(database)
            snapshot = {}
            try:
                names = [n for n, _ in settings]
                snapshot = conn.settings_snapshot(names)
                applied = conn.apply_settings(settings)
                snapshot = {n: snapshot.get(n) for n in applied}
                started = time.monotonic()
                if split is not None:
                    self.do_insert(conn, full, split, sql_text, stream_body, body, resp, base_headers, started)
                elif (kind in ("SELECT", "WITH") and not wait_end and fmt.lower() in STREAMABLE_FORMATS
                      and not any(_UNSTREAMABLE_SETTINGS_RE.search(n) for n, _ in settings)
                      and not _UNSTREAMABLE_SETTINGS_RE.search(sql_text)):
                    self.do_select(conn, sql_text, fmt, qparams, resp, base_headers, started)
                else:
                    self.do_other(conn, sql_text, fmt, qparams, resp, base_headers, started)
            finally:
                try:
                    if conn.session_id is None and changes_session_state(kind, latin):
                        conn = engine.recycle(conn)
                    else:
                        conn.restore_settings(snapshot)
                        if prev_db is not None and (conn.session_id is None or kind != "USE"):
                            conn.use(prev_db)
                except CHError as err:
                    log(f"state restore failed: {error_text(err)}")
                    if conn.session_id is None:
                        conn = engine.recycle(conn)
        finally:
            engine.release_query_id(query_id)
            self.release(conn)

    @staticmethod
    def release(conn: Conn) -> None:
        conn.last_used = time.monotonic()
        if conn.session_id:
            conn.lock.release()
        else:
            ENGINE.pool.put(conn)

    def result_headers(self, base_headers, fmt: str, summ: str):
        return base_headers + [
            ("Content-Type", content_type_for(fmt)),
            ("X-ClickHouse-Format", fmt),
            ("X-ClickHouse-Summary", summ),
        ]

    def do_insert(self, conn: Conn, full: bytes, split: InsertSplit, head_sql: str, stream_body: bool,
                  body: BodyReader, resp: Response, base_headers, started: float):
        try:
            ins = conn.c.send_insert(head_sql, split.fmt)
        except Exception as exc:
            raise from_engine_error(exc) from None
        finished = False
        try:
            prefix = full[split.data_start:]
            if prefix:
                conn.c.insert_append(ins, bytes(prefix))
            if stream_body:
                for chunk in body.chunks():
                    conn.c.insert_append(ins, chunk)
            res = conn.c.insert_done(ins)
            finished = True
        except (CHError, ClientGone):
            raise
        except Exception as exc:
            raise from_engine_error(exc) from None
        finally:
            if not finished:
                try:
                    conn.c.insert_cancel(ins)
                except Exception:
                    pass
        summ = summary(written_rows=res.rows_written(), written_bytes=res.bytes_written(),
                       elapsed=time.monotonic() - started)
        resp.send_full(200, self.result_headers(base_headers, "TabSeparated", summ), b"")

    def do_other(self, conn: Conn, sql: str, fmt: str, qparams: dict, resp: Response, base_headers,
                 started: float):
        res = conn.run(sql, fmt, qparams)
        data = res.get_memview().view()  # no copy; `res` owns the memory until we return
        summ = summary(read_rows=res.storage_rows_read(), read_bytes=res.storage_bytes_read(),
                       written_rows=res.rows_written(), written_bytes=res.bytes_written(),
                       result_rows=res.rows_read(), result_bytes=data.nbytes,
                       elapsed=time.monotonic() - started)
        resp.send_full(200, self.result_headers(base_headers, fmt, summ), data)

    def do_select(self, conn: Conn, sql: str, fmt: str, qparams: dict, resp: Response, base_headers,
                  started: float):
        c = conn.c
        try:
            st = c.send_query(sql, fmt, params=qparams)
        except Exception as exc:
            err = from_engine_error(exc)
            if err.code == 36 and "Streaming query is not supported" in err.message:
                return self.do_other(conn, sql, fmt, qparams, resp, base_headers, started)
            raise err from None
        buffered: list[bytes] = []
        size = 0
        rows = 0
        done = False
        try:
            while size < FIRST_BUFFER:
                try:
                    r = c.streaming_fetch_result(st)
                except Exception as exc:
                    raise from_engine_error(exc) from None
                if r is None:
                    done = True
                    break
                n = r.rows_read()
                b = r.bytes()
                if n == 0 and not b:
                    done = True
                    break
                rows += n
                size += len(b)
                buffered.append(b)
            if done:
                data = b"".join(buffered)
                summ = summary(result_rows=rows, result_bytes=size, read_rows=rows,
                               elapsed=time.monotonic() - started)
                resp.send_full(200, self.result_headers(base_headers, fmt, summ), data)
                return
            tag = new_tag()
            headers = self.result_headers(base_headers, fmt, summary(result_rows=rows, result_bytes=size))
            headers.append(("X-ClickHouse-Exception-Tag", tag))
            resp.start_stream(200, headers)
            for b in buffered:
                resp.stream(b)
            buffered = []
            while True:
                try:
                    r = c.streaming_fetch_result(st)
                except Exception as exc:
                    done = True  # the engine ended the query
                    resp.abort_stream_with_error(from_engine_error(exc), tag)
                    return
                if r is None or (r.rows_read() == 0 and r.size() == 0):
                    break
                resp.stream(r.get_memview().view())  # no copy; `r` lives until the next fetch
            done = True
            resp.end_stream()
        finally:
            if not done:
                try:
                    c.streaming_cancel_query(st)
                except Exception:
                    pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main() -> int:
    global ENGINE, ENGINE_VERSION, VERBOSE
    ap = argparse.ArgumentParser(description="ClickHouse-HTTP-compatible test server backed by chdb")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument("--path", default=None, help="data directory (default: a temporary one, removed on exit)")
    ap.add_argument("--pool", type=int, default=4, help="engine connections for requests without session_id")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--exit-on-stdin-eof", action="store_true",
                    help="stop when stdin closes (so the server never outlives its parent)")
    args = ap.parse_args()
    VERBOSE = args.verbose

    tmp = None
    path = args.path
    if path is None:
        tmp = tempfile.mkdtemp(prefix="chdb-server-")
        path = tmp
    os.makedirs(path, exist_ok=True)
    ENGINE = Engine(path, max(1, args.pool))
    ENGINE_VERSION = ENGINE.version()

    httpd = Server((args.host, args.port), Handler)
    stopping = threading.Event()

    def stop(*_):
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_on_stdin_eof:
        def watch_stdin():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except Exception:
                pass
            stop()
        threading.Thread(target=watch_stdin, daemon=True).start()

    port = httpd.server_address[1]
    sys.stdout.write(f"LISTENING {port}\n")
    sys.stdout.flush()
    log(f"engine {ENGINE_VERSION}, data in {path}, listening on {args.host}:{port}")
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        with ACTIVE_LOCK:
            idle = ACTIVE[0] == 0
        if idle:  # never pull a connection from under a request thread
            ENGINE.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # Request threads may still be inside the engine; do not wait for them.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())

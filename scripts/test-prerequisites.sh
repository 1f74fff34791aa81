#!/usr/bin/env bash
# What `make test` needs outside Python, checked (and installed where we can) before the suite.
set -euo pipefail

need_pg_binaries() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

url="${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -d "${url/+psycopg/}" 2>/dev/null; then
  echo "test prerequisites: PostgreSQL answers at ${url%%@*}@..."
elif need_pg_binaries; then
  echo "test prerequisites: no PostgreSQL server answers; the tests will start a throw-away one"
else
  echo "test prerequisites: no PostgreSQL server and no PostgreSQL binaries; installing Debian's postgresql"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "error: the tests need PostgreSQL: set TEST_DATABASE_URL to a server, or install PostgreSQL (apt-get install postgresql)" >&2
    exit 1
  fi
fi

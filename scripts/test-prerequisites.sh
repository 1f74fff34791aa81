#!/usr/bin/env bash
# What `make test` needs outside Python, checked (and installed where we can) before the suite:
# PostgreSQL (a server, or binaries for a throw-away one), Dovecot (a real IMAP server for the
# email-approval tests) and Chromium (the dashboard's and the console's browser tests; Playwright
# launches Debian's /usr/bin/chromium, it downloads no browser of its own).
set -euo pipefail

missing=()
url="${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -d "${url/+psycopg/}" 2>/dev/null; then
  echo "test prerequisites: PostgreSQL answers at ${url%%@*}@..."
elif command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "test prerequisites: no PostgreSQL server answers; the tests will start a throw-away one"
else
  missing+=(postgresql)
fi
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test prerequisites: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "error: the tests need these Debian packages: ${missing[*]}" >&2
    echo "       install them (sudo apt-get install ${missing[*]}) or run make test as root" >&2
    exit 1
  fi
fi
# The Celery test needs a Redis broker on 127.0.0.1:6379; start a throw-away one if none answers.
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  echo "test prerequisites: starting a Redis server on 127.0.0.1:6379 for the Celery test"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi
echo "test prerequisites: PostgreSQL, Redis, Dovecot and Chromium are available"

#!/bin/sh
# Live h2c checks with real clients against a running Celeriac API ($1 = base URL) with a worker.
# curl prior knowledge and Upgrade, nghttp, and httpx (one connection). Exit 1 on the first failure.
set -eu
base=$1
python=${2:-python3}
fail() { echo "FAIL: $*" >&2; exit 1; }
out=$(curl -s --max-time 5 --http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}' "$base/healthz")
[ "$out" = "2 200" ] || fail "curl --http2-prior-knowledge /healthz: $out"
out=$(curl -s --max-time 5 --http2 -o /dev/null -w '%{http_version} %{http_code}' "$base/healthz")
[ "$out" = "2 200" ] || fail "curl --http2 (Upgrade: h2c) /healthz: $out"
out=$(curl -s --max-time 5 --http1.1 -o /dev/null -w '%{http_version} %{http_code}' "$base/healthz")
[ "$out" = "1.1 200" ] || fail "curl --http1.1 /healthz: $out"
nghttp -n --stat "$base/healthz" "$base/healthz" >/dev/null || fail "nghttp"
out=$(curl -s --max-time 5 --http2-prior-knowledge -w ' %{http_code}' "$base/nope")
case "$out" in *'"status":404'*' 404') ;; *) fail "problem+json over h2: $out" ;; esac
"$python" "$(dirname "$0")/one_connection.py" "$base"
echo "h2c live checks passed (curl prior knowledge, curl upgrade, nghttp, httpx)"

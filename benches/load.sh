#!/usr/bin/env bash
# Foundation load figures for docs/performance.md: binary size, cold start to the first 200,
# idle RSS, and wrk throughput / latency of /healthz and GET /login, all on loopback.
# The release binary is copied alone into an empty directory, as IT would deploy it.
# Usage: benches/load.sh [seconds-per-run]   (needs wrk and bc: apt-get install wrk bc)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
port=18090
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

# ZHIJIA_BIN=path measures an existing binary instead of building one.
bin="${ZHIJIA_BIN:-}"
if [ -z "$bin" ]; then cargo build --release --locked >/dev/null; bin=target/release/zhijia; fi
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
cp "$bin" "$dir/zhijia"
cd "$dir"
echo "binary size: $(du -h zhijia | cut -f1) ($(stat -c %s zhijia) bytes)"

# Cold start: empty directory, so this includes creating the database and running migrations.
start=$(date +%s.%N)
ZHIJIA_BIND=127.0.0.1:$port RUST_LOG=warn ./zhijia serve >server.log 2>&1 &
pid=$!
for _ in $(seq 1 2000); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.005; done
end=$(date +%s.%N)
printf 'cold start to first 200 (fresh database, migrations included): %.0f ms\n' "$(echo "($end - $start) * 1000" | bc)"
sleep 1
echo "idle RSS: $(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 )) MiB"
ls -la "$dir"/data >/dev/null && echo "data directory created: $(ls data | tr '\n' ' ')"

for path in /healthz /login; do
  echo
  echo "== wrk -t2 -c32 -d${secs}s --latency http://127.0.0.1:$port$path"
  cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
  wrk -t2 -c32 -d"${secs}s" --latency "http://127.0.0.1:$port$path" | grep -E "Requests/sec|Latency|50%|99%|requests in|Non-2xx"
  cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
  echo "server CPU during the run: $(( (cpu1 - cpu0) * 10 )) ms"
done
echo
echo "RSS after load: $(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 )) MiB"

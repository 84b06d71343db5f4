#!/usr/bin/env bash
# tests/bench/filters.sh - the cost of a filter chain: smtp-source at one
# concurrency through two sluiced side by side, one without filters and one with
# N copies of a filter that continues at every phase (filters/example with no
# keys), alternating runs, to smtp-sink. Prints msgs/s of each (median) and the
# ratio. On demand, not in CI. Loopback only; everything started is stopped by pid.
#
#     tests/bench/filters.sh                       # 5 x example, c=100, 1 KB, 5 runs
#     N=10 CONC=10 RUNS=3 tests/bench/filters.sh
set -u
set -o pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

SLUICED=${SLUICED:-./sluiced}
FILTER=${FILTER:-$(dirname "$SLUICED")/filters/example/.libs/example.so}
N=${N:-5}
CONC=${CONC:-100}
SIZE=${SIZE:-1024}
MSGS=${MSGS:-3000}
RUNS=${RUNS:-5}
WORKERS=${WORKERS:-auto}
SMTP_SOURCE=${SMTP_SOURCE:-$(command -v smtp-source || echo /usr/sbin/smtp-source)}
SMTP_SINK=${SMTP_SINK:-$(command -v smtp-sink || echo /usr/sbin/smtp-sink)}

[ -x "$SLUICED" ] || die "no sluiced at '$SLUICED'"
[ -f "$FILTER" ] || die "no filter at '$FILTER' (set FILTER=path.so)"

WORK=$(mktemp -d /tmp/sluice-fbench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
            for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

SINK=$(free_port)
"$SMTP_SINK" $([ "$(id -u)" = 0 ] && echo "-u nobody") -4 -m 2000 "127.0.0.1:$SINK" 1000 >"$WORK/sink.log" 2>&1 &
PIDS+=($!)
wait_banner "$SINK" || die "smtp-sink did not start"

start_sluiced() {   # NAME NFILTERS -> prints the port
	local name=$1 n=$2 port
	port=$(free_port)
	mkdir -p "$WORK/$name/spool"
	{
		printf '[sluice]\nlisten = 127.0.0.1:%s\nbackend = 127.0.0.1:%s\nhostname = sluice.test\n' "$port" "$SINK"
		printf 'workers = %s\nmax_connections = 5000\nmax_connections_per_ip = 5000\n' "$WORKERS"
		printf 'min_data_rate = 0\nspool_dir = %s\nlog_level = warning\n' "$WORK/$name/spool"
		for i in $(seq "$n"); do printf '[filter example%s]\nmodule = %s\n' "$i" "$FILTER"; done
	} >"$WORK/$name/sluice.conf"
	"$SLUICED" -f -c "$WORK/$name/sluice.conf" >"$WORK/$name/log" 2>&1 &
	PIDS+=($!)
	wait_banner "$port" || die "sluiced ($name) did not start: $(tail -5 "$WORK/$name/log")"
	echo "$port"
}
P0=$(start_sluiced plain 0)
P1=$(start_sluiced filtered "$N")

run() {   # PORT -> msgs/s
	local t0 t1
	t0=$(date +%s%N)
	timeout 300 "$SMTP_SOURCE" -4 -s "$CONC" -l "$SIZE" -m "$MSGS" -M client.example \
		-f sender@example.org -t rcpt@example.com "127.0.0.1:$1" >/dev/null 2>&1 || { echo 0; return; }
	t1=$(date +%s%N)
	awk -v m="$MSGS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", m / ((b - a) / 1e9) }'
}
run "$P0" >/dev/null; run "$P1" >/dev/null   # warm up (DNS cache, backend probe)
: >"$WORK/plain.t"; : >"$WORK/filtered.t"
for _ in $(seq "$RUNS"); do
	run "$P0" >>"$WORK/plain.t"; echo >>"$WORK/plain.t"
	run "$P1" >>"$WORK/filtered.t"; echo >>"$WORK/filtered.t"
done
a=$(grep . "$WORK/plain.t" | median); b=$(grep . "$WORK/filtered.t" | median)
echo "c=$CONC size=$SIZE msgs/run=$MSGS runs=$RUNS workers=$WORKERS"
echo "runs without filters (msgs/s): $(grep . "$WORK/plain.t" | tr '\n' ' ')"
echo "runs with $N x example:        $(grep . "$WORK/filtered.t" | tr '\n' ' ')"
awk -v a="$a" -v b="$b" -v n="$N" 'BEGIN { printf "median: %.0f msgs/s without, %.0f with %d filters: ratio %.3f (cost %.1f%%)\n", a, b, n, b / a, (1 - b / a) * 100 }'

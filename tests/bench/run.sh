#!/usr/bin/env bash
# tests/bench/run.sh - throughput and memory of sluiced against smtp-sink.
#
# Not part of `make check`; run on demand from the top of the tree after a build:
#
#     tests/bench/run.sh                 # defaults, well under 10 minutes
#     RUNS=5 SECS=5 tests/bench/run.sh   # more, longer runs
#
# See tests/bench/README.md for every knob and for how to read the table.
# Loopback only. Everything this script starts is stopped by pid on exit.

set -u
set -o pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

SLUICED=${SLUICED:-./sluiced}
RUNS=${RUNS:-3}                      # runs per (concurrency, size) and per path
SECS=${SECS:-3}                      # aim for runs this long (seconds)
CONCURRENCY=${CONCURRENCY:-"1 10 100"}
SIZES=${SIZES:-"1024 102400"}        # payload octets (smtp-source -l)
MAX_MSGS=${MAX_MSGS:-10000}          # cap on messages per run
BIG=${BIG:-52428800}                 # the single big message; 0 = skip
WORKERS=${WORKERS:-auto}             # sluiced workers
DEADLINE=${DEADLINE:-540}            # seconds; later rows are skipped, not run
RUN_TIMEOUT=${RUN_TIMEOUT:-120}      # bound on any one smtp-source run
SLUICE_EXTRA_CONF=${SLUICE_EXTRA_CONF:-}  # more [sluice] keys, ';' between them

SMTP_SOURCE=${SMTP_SOURCE:-$(command -v smtp-source || echo /usr/sbin/smtp-source)}
SMTP_SINK=${SMTP_SINK:-$(command -v smtp-sink || echo /usr/sbin/smtp-sink)}

[ -x "$SLUICED" ] || die "no sluiced at '$SLUICED' (build it, or set SLUICED=path)"
[ -x "$SMTP_SOURCE" ] || die "smtp-source not found (Postfix's test tools)"
[ -x "$SMTP_SINK" ] || die "smtp-sink not found (Postfix's test tools)"
command -v python3 >/dev/null || die "python3 is needed to pick free ports"

START=$(date +%s)
WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX) || die "mktemp failed"
SINK_PID=
SLUICED_PID=
SAMPLER_PID=

cleanup() {
	local pid
	for pid in $SAMPLER_PID $SLUICED_PID $SINK_PID; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $SAMPLER_PID $SLUICED_PID $SINK_PID; do stop_pid "$pid"; done
	if [ -n "${KEEP:-}" ]; then
		echo "bench: logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

alive() { kill -0 "$SLUICED_PID" 2>/dev/null || die "sluiced (pid $SLUICED_PID) died; log: $WORK/sluiced.log
$(tail -20 "$WORK/sluiced.log")"; }

# run_source PORT CONC SIZE COUNT: one smtp-source run; prints elapsed seconds,
# or FAIL. Every message is its own connection (as on an MX): no -d.
run_source() {
	local port=$1 conc=$2 size=$3 count=$4 t0 t1 rc
	t0=$(now_ns)
	timeout "$RUN_TIMEOUT" "$SMTP_SOURCE" -4 -C 5 -s "$conc" -l "$size" -m "$count" \
		-M client.example -f sender@example.org -t rcpt@example.com \
		"127.0.0.1:$port" >>"$WORK/source.log" 2>&1
	rc=$?
	t1=$(now_ns)
	if [ $rc -ne 0 ]; then
		echo "smtp-source to port $port (c=$conc l=$size m=$count) failed: rc=$rc" >>"$WORK/errors"
		echo FAIL
		return
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'
}

# ---------------------------------------------------------------- set up

SINK_PORT=$(free_port)
SLUICE_PORT=$(free_port)
while [ "$SLUICE_PORT" = "$SINK_PORT" ]; do SLUICE_PORT=$(free_port); done

# smtp-sink: -u is required when run as root (it drops to that user after
# binding); -m raises its connection cap (default 256) above anything we send
# (direct runs plus sluiced's backend connections); 1000 is the listen backlog.
SINK_USER=$([ "$(id -u)" = 0 ] && echo "-u nobody")
"$SMTP_SINK" $SINK_USER -4 -m 2000 "127.0.0.1:$SINK_PORT" 1000 \
	>"$WORK/sink.log" 2>&1 &
SINK_PID=$!
wait_banner "$SINK_PORT" 10 || die "smtp-sink did not start: $(cat "$WORK/sink.log")"

mkdir -p "$WORK/spool"
# max_connections(_per_ip): every benchmark connection comes from 127.0.0.1.
# max_message_size: room for the big message. min_data_rate off: at c=100 on a
# small machine a session can legitimately be slow.
cat >"$WORK/sluice.conf" <<EOF
[sluice]
listen = 127.0.0.1:$SLUICE_PORT
backend = 127.0.0.1:$SINK_PORT
hostname = sluice.test
workers = $WORKERS
max_connections = 5000
max_connections_per_ip = 5000
max_message_size = 100M
min_data_rate = 0
spool_dir = $WORK/spool
log_level = warning
EOF
# e.g. SLUICE_EXTRA_CONF='backend_pool = 0' for the side-by-side without pooling
[ -n "$SLUICE_EXTRA_CONF" ] && printf '%s\n' "$SLUICE_EXTRA_CONF" | tr ';' '\n' >>"$WORK/sluice.conf"

"$SLUICED" -f -c "$WORK/sluice.conf" >"$WORK/sluiced.log" 2>&1 &
SLUICED_PID=$!
wait_banner "$SLUICE_PORT" 15 || die "sluiced did not start: $(tail -20 "$WORK/sluiced.log")"

# Background sampler: the highest VmRSS seen, every 0.2 s, into $WORK/rss_max
# (a cross-check of VmHWM, and evidence if the kernel cannot reset VmHWM).
echo 0 >"$WORK/rss_max"
(
	max=0
	while kill -0 "$SLUICED_PID" 2>/dev/null; do
		r=$(status_kb "$SLUICED_PID" VmRSS)
		if [ -n "$r" ] && [ "$r" -gt "$max" ]; then max=$r; echo "$max" >"$WORK/rss_max"; fi
		[ -f "$WORK/rss_reset" ] && { rm -f "$WORK/rss_reset"; max=0; echo 0 >"$WORK/rss_max"; }
		sleep 0.2
	done
) &
SAMPLER_PID=$!

echo "sluiced $SLUICED (pid $SLUICED_PID, workers=$WORKERS) -> smtp-sink 127.0.0.1:$SINK_PORT"
echo "runs=$RUNS, ~${SECS}s per run, cpus=$(nproc), $(uname -sr)"
[ -n "$SLUICE_EXTRA_CONF" ] && echo "extra sluice.conf keys: $SLUICE_EXTRA_CONF"
echo "start RSS $(mib "$(status_kb "$SLUICED_PID" VmRSS)") MiB"
echo

# ---------------------------------------------------------------- the table

printf '%5s %7s %6s %12s %12s %6s %9s %9s\n' \
	conc size msgs "direct/s" "sluice/s" ratio "peak MiB" "rss MiB"
skipped=0
for size in $SIZES; do
	for conc in $CONCURRENCY; do
		if [ $(( $(date +%s) - START )) -ge "$DEADLINE" ]; then
			skipped=$((skipped + 1))
			continue
		fi
		alive
		reset_hwm "$SLUICED_PID"
		touch "$WORK/rss_reset"; sleep 0.3

		# Calibrate on the slower path (through sluiced): a short run sizes the
		# real ones so that each takes about SECS seconds.
		cal=$(( conc * 10 > 200 ? conc * 10 : 200 ))
		[ "$size" -ge 65536 ] && cal=$(( conc * 4 > 50 ? conc * 4 : 50 ))
		t=$(run_source "$SLUICE_PORT" "$conc" "$size" "$cal")
		if [ "$t" = FAIL ]; then
			printf '%5s %7s %6s %12s\n' "$conc" "$size" "$cal" "FAILED (calibration; see errors below)"
			continue
		fi
		msgs=$(awk -v n="$cal" -v t="$t" -v s="$SECS" -v c="$conc" -v max="$MAX_MSGS" 'BEGIN {
			m = int(n / t * s); if (m < c * 2) m = c * 2; if (m < 20) m = 20
			if (m > max) m = max; m = int((m + c - 1) / c) * c; print m }')

		: >"$WORK/direct.t"; : >"$WORK/sluice.t"; fails=0
		for _ in $(seq "$RUNS"); do
			# alternate the two paths, so drift (thermal, other load) hits both alike
			for path in direct sluice; do
				port=$SINK_PORT; [ $path = sluice ] && port=$SLUICE_PORT
				t=$(run_source "$port" "$conc" "$size" "$msgs")
				if [ "$t" = FAIL ]; then fails=$((fails + 1)); continue; fi
				awk -v m="$msgs" -v t="$t" 'BEGIN { printf "%.1f\n", m / t }' >>"$WORK/$path.t"
			done
			alive
		done
		d=$(median <"$WORK/direct.t")
		s=$(median <"$WORK/sluice.t")
		ratio=$(awk -v d="$d" -v s="$s" 'BEGIN { if (d + 0 > 0 && s + 0 > 0) printf "%.2f", s / d; else print "-" }')
		hwm=$(status_kb "$SLUICED_PID" VmHWM)
		rssmax=$(cat "$WORK/rss_max")
		note=; [ $fails -gt 0 ] && note="  ($fails runs FAILED)"
		printf '%5s %7s %6s %12.0f %12.0f %6s %9s %9s%s\n' \
			"$conc" "$size" "$msgs" "$d" "$s" "$ratio" "$(mib "$hwm")" "$(mib "$rssmax")" "$note"
	done
done
[ $skipped -gt 0 ] && echo "($skipped rows skipped: DEADLINE=${DEADLINE}s reached)"
[ "$HWM_RESETS" = no ] && echo "(VmHWM could not be reset: 'peak MiB' is the peak since sluiced started)"

# ---------------------------------------------------------------- one big message

if [ "$BIG" -gt 0 ] && [ $(( $(date +%s) - START )) -lt "$DEADLINE" ]; then
	alive
	echo
	sleep 0.5
	reset_hwm "$SLUICED_PID"
	before=$(status_kb "$SLUICED_PID" VmRSS)
	t=$(run_source "$SLUICE_PORT" 1 "$BIG" 1)
	alive
	after=$(status_kb "$SLUICED_PID" VmHWM)
	if [ "$t" = FAIL ]; then
		echo "big message ($(mib $((BIG / 1024))) MiB): FAILED"
	else
		printf 'big message: %s MiB in %.2f s through sluiced; RSS before %s MiB, peak during %s MiB, growth %s MiB%s\n' \
			"$(mib $((BIG / 1024)))" "$t" "$(mib "$before")" "$(mib "$after")" \
			"$(mib $((after - before)))" \
			"$([ "$HWM_RESETS" = no ] && echo ' (VmHWM not reset: growth is an upper bound)')"
	fi
fi

echo
echo "sluiced at the end: VmRSS $(mib "$(status_kb "$SLUICED_PID" VmRSS)") MiB," \
	"VmHWM $(mib "$(status_kb "$SLUICED_PID" VmHWM)") MiB; total $(( $(date +%s) - START )) s"
if [ -s "$WORK/errors" ]; then
	echo
	echo "errors:"
	cat "$WORK/errors"
	echo "(last lines of smtp-source output:)"
	tail -5 "$WORK/source.log"
	grep -ci 'error\|fatal\|panic' "$WORK/sluiced.log" >/dev/null && { echo "(sluiced log:)"; tail -10 "$WORK/sluiced.log"; }
	exit 1
fi
exit 0

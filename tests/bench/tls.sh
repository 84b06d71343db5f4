#!/usr/bin/env bash
# tests/bench/tls.sh - what STARTTLS costs: msgs/s through one sluiced listener
# that offers STARTTLS (tls = optional), with and without TLS, and sluiced's
# peak RSS during the TLS runs. The load comes from tests/bench/smtpload.c
# (smtp-source has no TLS), built into the work directory; smtp-sink is the backend.
#
# Not part of `make check`; run on demand from the top of the tree after a build:
#
#     tests/bench/tls.sh                              # ./sluiced, c=100, 1 KB, 3 runs
#     SLUICED=_build/bench/sluiced RUNS=5 tests/bench/tls.sh
#
# See tests/bench/README.md for the knobs and for how to read the table.
# Loopback only. Everything this script starts is stopped by pid on exit.

set -u
set -o pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

SLUICED=${SLUICED:-./sluiced}
RUNS=${RUNS:-3}                      # runs per row and per path (plain, STARTTLS)
SECS=${SECS:-3}                      # aim for TLS runs this long (seconds)
CONCURRENCY=${CONCURRENCY:-100}      # parallel clients (smtpload --concurrency)
SIZE=${SIZE:-1024}                   # message octets, header included
MSGS=${MSGS:-}                       # messages per run; empty = calibrate
MAX_MSGS=${MAX_MSGS:-10000}          # cap on calibrated messages per run
CERTS=${CERTS:-"rsa ec"}             # one row per certificate: rsa (2048), ec (P-256)
RESUME=${RESUME:-0}                  # 1: TLS clients resume their previous session
DIRECT=${DIRECT:-1}                  # 1: reference row straight to smtp-sink
WORKERS=${WORKERS:-auto}             # sluiced workers
DEADLINE=${DEADLINE:-540}            # seconds; later rows are skipped, not run
RUN_TIMEOUT=${RUN_TIMEOUT:-120}      # bound on any one load run
IO_TIMEOUT=${IO_TIMEOUT:-30}         # smtpload's per-socket timeout (seconds)
CC=${CC:-cc}

SMTP_SINK=${SMTP_SINK:-$(command -v smtp-sink || echo /usr/sbin/smtp-sink)}
SMTP_SOURCE=${SMTP_SOURCE:-$(command -v smtp-source || echo /usr/sbin/smtp-source)}
HERE=$(cd "$(dirname "$0")" && pwd)

[ -x "$SLUICED" ] || die "no sluiced at '$SLUICED' (build it, or set SLUICED=path)"
[ -x "$SMTP_SINK" ] || die "smtp-sink not found (Postfix's test tools)"
command -v openssl >/dev/null || die "openssl is needed for the throwaway certificates"
command -v "$CC" >/dev/null || die "no C compiler ('$CC'); set CC="
command -v python3 >/dev/null || die "python3 is needed to pick free ports"
[ -f "$HERE/smtpload.c" ] || die "no $HERE/smtpload.c"
for c in $CERTS; do
	case $c in rsa|ec) ;; *) die "CERTS: unknown '$c' (rsa, ec)" ;; esac
done
[ -n "$CERTS" ] || die "CERTS is empty"

START=$(date +%s)
WORK=$(mktemp -d /tmp/sluice-tlsbench.XXXXXX) || die "mktemp failed"
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

# run_load PORT COUNT [smtpload options...]: one smtpload run; prints elapsed
# wall seconds, or FAIL (the reasons go to $WORK/errors). The "tls:" line of
# a STARTTLS run is kept in $WORK/tls.last.
run_load() {
	local port=$1 count=$2 t0 t1 rc
	shift 2
	t0=$(now_ns)
	timeout "$RUN_TIMEOUT" "$WORK/smtpload" --port "$port" --concurrency "$CONCURRENCY" \
		--messages "$count" --size "$SIZE" --timeout "$IO_TIMEOUT" "$@" \
		>"$WORK/load.out" 2>"$WORK/load.err"
	rc=$?
	t1=$(now_ns)
	cat "$WORK/load.out" "$WORK/load.err" >>"$WORK/load.log"
	grep '^tls:' "$WORK/load.out" >"$WORK/tls.last"
	if [ $rc -ne 0 ]; then
		{
			echo "smtpload to port $port (c=$CONCURRENCY size=$SIZE m=$count $*): rc=$rc$([ $rc = 124 ] && echo ' (RUN_TIMEOUT)')"
			grep '^smtpload: [0-9]' "$WORK/load.out" | sed 's/^/    /'
			head -5 "$WORK/load.err" | sed 's/^/    /'
		} >>"$WORK/errors"
		echo FAIL
		return
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'
}

# run_source PORT COUNT: one smtp-source run (the cross-check); as run_load.
run_source() {
	local port=$1 count=$2 t0 t1 rc
	t0=$(now_ns)
	timeout "$RUN_TIMEOUT" "$SMTP_SOURCE" -4 -C 5 -s "$CONCURRENCY" -l "$SIZE" -m "$count" \
		-M client.example -f sender@example.org -t rcpt@example.com \
		"127.0.0.1:$port" >>"$WORK/source.log" 2>&1
	rc=$?
	t1=$(now_ns)
	if [ $rc -ne 0 ]; then
		echo "smtp-source to port $port (c=$CONCURRENCY l=$SIZE m=$count): rc=$rc" >>"$WORK/errors"
		echo FAIL
		return
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'
}

# msgs_for COUNT SECONDS: messages for a run of about SECS seconds, given that
# COUNT took SECONDS; at least 2 per client, at most MAX_MSGS, a multiple of
# CONCURRENCY.
msgs_for() {
	awk -v n="$1" -v t="$2" -v s="$SECS" -v c="$CONCURRENCY" -v max="$MAX_MSGS" 'BEGIN {
		m = int(n / t * s); if (m < c * 2) m = c * 2; if (m < 20) m = 20
		if (m > max) m = max; m = int((m + c - 1) / c) * c; print m }'
}

# ---------------------------------------------------------------- set up

"$CC" -O2 -Wall -Wextra -Werror -o "$WORK/smtpload" "$HERE/smtpload.c" -lssl -lcrypto -pthread \
	>"$WORK/cc.log" 2>&1 || die "cannot build smtpload: $(cat "$WORK/cc.log")"

# Throwaway self-signed certificates. Each has its own name, so the client's
# SNI picks it among the listener's pairs (the first pair is the default).
cert_name() { case $1 in rsa) echo sluice.test ;; ec) echo ec.sluice.test ;; esac; }
cert_want() { case $1 in rsa) echo RSA-2048 ;; ec) echo EC-256 ;; esac; }
for c in $CERTS; do
	case $c in
	rsa) keyopt=(-newkey rsa:2048) ;;
	ec)  keyopt=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
	esac
	openssl req -x509 "${keyopt[@]}" -nodes -days 2 -subj "/CN=$(cert_name "$c")" \
		-addext "subjectAltName=DNS:$(cert_name "$c")" \
		-keyout "$WORK/$c.key" -out "$WORK/$c.pem" >>"$WORK/openssl.log" 2>&1 \
		|| die "openssl could not make the $c certificate: $(tail -5 "$WORK/openssl.log")"
done

SINK_PORT=$(free_port)
SLUICE_PORT=$(free_port)
while [ "$SLUICE_PORT" = "$SINK_PORT" ]; do SLUICE_PORT=$(free_port); done

# smtp-sink: -u is required when run as root; -m raises its connection cap
# (default 256) above anything we send; 1000 is the listen backlog.
SINK_USER=$([ "$(id -u)" = 0 ] && echo "-u nobody")
"$SMTP_SINK" $SINK_USER -4 -m 2000 "127.0.0.1:$SINK_PORT" 1000 \
	>"$WORK/sink.log" 2>&1 &
SINK_PID=$!
wait_banner "$SINK_PORT" 10 || die "smtp-sink did not start: $(cat "$WORK/sink.log")"

mkdir -p "$WORK/spool"
# As run.sh: every connection comes from 127.0.0.1, so the per-IP cap is
# raised; min_data_rate off, since at c=100 on a small machine a session can
# legitimately be slow. One listener, STARTTLS offered, one pair per CERTS.
{
	cat <<EOF
[sluice]
backend = 127.0.0.1:$SINK_PORT
hostname = sluice.test
workers = $WORKERS
max_connections = 5000
max_connections_per_ip = 5000
min_data_rate = 0
spool_dir = $WORK/spool
log_level = warning

[listener bench]
address = 127.0.0.1:$SLUICE_PORT
tls = optional
EOF
	for c in $CERTS; do
		printf 'tls_cert = %s\ntls_key = %s\n' "$WORK/$c.pem" "$WORK/$c.key"
	done
} >"$WORK/sluice.conf"

"$SLUICED" -f -c "$WORK/sluice.conf" >"$WORK/sluiced.log" 2>&1 &
SLUICED_PID=$!
wait_banner "$SLUICE_PORT" 15 || die "sluiced did not start: $(tail -20 "$WORK/sluiced.log")"

# Background sampler: the highest VmRSS seen, every 0.2 s, into $WORK/rss_max;
# $WORK/rss_reset starts it over (a cross-check of VmHWM).
echo 0 >"$WORK/rss_max"
(
	max=0
	while kill -0 "$SLUICED_PID" 2>/dev/null; do
		[ -f "$WORK/rss_reset" ] && { rm -f "$WORK/rss_reset"; max=0; echo 0 >"$WORK/rss_max"; }
		r=$(status_kb "$SLUICED_PID" VmRSS)
		if [ -n "$r" ] && [ "$r" -gt "$max" ]; then max=$r; echo "$max" >"$WORK/rss_max"; fi
		sleep 0.2
	done
) &
SAMPLER_PID=$!

# before_run / after_run: VmHWM and the sampler start over before each run, and
# are read right after it, so a row's peak covers only its TLS runs.
before_run() { alive; reset_hwm "$SLUICED_PID"; touch "$WORK/rss_reset"; sleep 0.3; }
after_run() { HWM_LAST=$(status_kb "$SLUICED_PID" VmHWM); RSS_LAST=$(cat "$WORK/rss_max"); }

echo "sluiced $SLUICED (pid $SLUICED_PID, workers=$WORKERS), listener 127.0.0.1:$SLUICE_PORT (tls = optional) -> smtp-sink 127.0.0.1:$SINK_PORT"
echo "runs=$RUNS, ~${SECS}s per TLS run, c=$CONCURRENCY, size=$SIZE, resume=$RESUME, cpus=$(nproc), $(uname -sr), $(openssl version | cut -d' ' -f1-2)"
echo "start RSS $(mib "$(status_kb "$SLUICED_PID" VmRSS)") MiB"
echo

# ---------------------------------------------------------------- the table

RESUME_OPT=(); [ "$RESUME" = 1 ] && RESUME_OPT=(--resume)
# A plain warm-up before any TLS: sluiced's peak without TLS, for comparison
# (later rows cannot show it: the allocator keeps what the TLS runs took).
before_run
t=$(run_load "$SLUICE_PORT" $(( CONCURRENCY * 10 > 200 ? CONCURRENCY * 10 : 200 )))
after_run
if [ "$t" = FAIL ]; then
	echo "plain warm-up: FAILED (see errors below)"
else
	echo "plain warm-up (before any TLS): $(rate $(( CONCURRENCY * 10 > 200 ? CONCURRENCY * 10 : 200 )) "$t") msgs/s," \
		"peak $(mib "$HWM_LAST") MiB (VmHWM), rss $(mib "$RSS_LAST") MiB (sampler)"
fi
echo

printf '%-5s %5s %6s %6s %9s %9s %6s %9s %9s\n' \
	cert conc size msgs "plain/s" "tls/s" ratio "tls MiB" "rss MiB"
skipped=0
: >"$WORK/notes"; : >"$WORK/cpu.rows"
for c in $CERTS; do
	if [ $(( $(date +%s) - START )) -ge "$DEADLINE" ]; then
		skipped=$((skipped + 1))
		continue
	fi
	tls_opt=(--starttls --sni "$(cert_name "$c")" "${RESUME_OPT[@]}")

	# Calibrate on the slower path (STARTTLS); the run also warms sluiced up.
	msgs=$MSGS
	cal=$(( CONCURRENCY * 10 > 200 ? CONCURRENCY * 10 : 200 ))
	alive
	t=$(run_load "$SLUICE_PORT" "$cal" "${tls_opt[@]}")
	if [ "$t" = FAIL ]; then
		printf '%-5s %5s %6s %6s %s\n' "$c" "$CONCURRENCY" "$SIZE" "$cal" "FAILED (calibration; see errors below)"
		continue
	fi
	[ -n "$msgs" ] || msgs=$(msgs_for "$cal" "$t")

	: >"$WORK/plain.t"; : >"$WORK/tls.t"; fails=0
	: >"$WORK/plain.cpu"; : >"$WORK/tls.cpu"; : >"$WORK/plain.gcpu"; : >"$WORK/tls.gcpu"
	hwm_tls=0; rss_tls=0; tls_info=
	for _ in $(seq "$RUNS"); do
		# alternate the two paths, so drift (other load) hits both alike
		for path in plain tls; do
			opts=(); [ $path = tls ] && opts=("${tls_opt[@]}")
			before_run
			c0=$(cpu_ticks "$SLUICED_PID")
			t=$(run_load "$SLUICE_PORT" "$msgs" "${opts[@]}")
			c1=$(cpu_ticks "$SLUICED_PID")
			after_run
			if [ $path = tls ]; then
				hwm_tls=$(max "$hwm_tls" "$HWM_LAST"); rss_tls=$(max "$rss_tls" "$RSS_LAST")
				[ -s "$WORK/tls.last" ] && tls_info=$(cat "$WORK/tls.last")
			fi
			if [ "$t" = FAIL ]; then fails=$((fails + 1)); continue; fi
			rate "$msgs" "$t" >>"$WORK/$path.t"; echo >>"$WORK/$path.t"
			# CPU milliseconds per message: sluiced's, and the generator's own
			awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" -v m="$msgs" \
				'BEGIN { printf "%.3f\n", (b - a) * 1000 / hz / m }' >>"$WORK/$path.cpu"
			awk -v m="$msgs" '$1 == "cpu" { printf "%.3f\n", $2 * 1000 / m }' \
				"$WORK/load.out" >>"$WORK/$path.gcpu"
		done
	done
	alive
	p=$(median <"$WORK/plain.t")
	s=$(median <"$WORK/tls.t")
	ratio=$(awk -v p="$p" -v s="$s" 'BEGIN { if (p + 0 > 0 && s + 0 > 0) printf "%.2f", s / p; else print "-" }')
	note=; [ $fails -gt 0 ] && note="  ($fails runs FAILED)"
	printf '%-5s %5s %6s %6s %9.0f %9.0f %6s %9s %9s%s\n' \
		"$c" "$CONCURRENCY" "$SIZE" "$msgs" "$p" "$s" "$ratio" \
		"$(mib "$hwm_tls")" "$(mib "$rss_tls")" "$note"
	printf '%-5s %14.2f %12.2f %15.2f %13.2f\n' "$c" \
		"$(median <"$WORK/plain.cpu")" "$(median <"$WORK/tls.cpu")" \
		"$(median <"$WORK/plain.gcpu")" "$(median <"$WORK/tls.gcpu")" >>"$WORK/cpu.rows"
	want=$(cert_want "$c")
	{
		echo "  $c: ${tls_info:-tls: (no handshake seen)}"
		echo "  $c: runs plain/s $(tr '\n' ' ' <"$WORK/plain.t")| tls/s $(tr '\n' ' ' <"$WORK/tls.t")"
	} >>"$WORK/notes"
	case $tls_info in
	*"server key $want;"*) ;;
	*) echo "  $c: expected a $want server key: SNI did not pick the $c certificate" >>"$WORK/notes" ;;
	esac
done
[ $skipped -gt 0 ] && echo "($skipped rows skipped: DEADLINE=${DEADLINE}s reached)"
cat "$WORK/notes"
if [ -s "$WORK/cpu.rows" ]; then
	echo
	echo "CPU per message, ms (medians): sluiced's, and the load generator's own"
	printf '%-5s %14s %12s %15s %13s\n' cert "sluiced plain" "sluiced tls" "smtpload plain" "smtpload tls"
	cat "$WORK/cpu.rows"
fi
[ "$HWM_RESETS" = no ] && echo "(VmHWM could not be reset: the MiB columns are the peak since sluiced started)"

# ------------------------------------------- reference: straight to smtp-sink

if [ "$DIRECT" = 1 ]; then
	echo
	if [ $(( $(date +%s) - START )) -ge "$DEADLINE" ]; then
		echo "(reference row skipped: DEADLINE=${DEADLINE}s reached)"
	else
		have_source=no; [ -x "$SMTP_SOURCE" ] && have_source=yes
		cal=$(( CONCURRENCY * 20 > 400 ? CONCURRENCY * 20 : 400 ))
		t=$(run_load "$SINK_PORT" "$cal")
		if [ "$t" = FAIL ]; then
			echo "reference: FAILED (calibration; see errors below)"
		else
			dmsgs=${MSGS:-$(msgs_for "$cal" "$t")}
			: >"$WORK/dload.t"; : >"$WORK/dsource.t"
			for _ in $(seq "$RUNS"); do
				t=$(run_load "$SINK_PORT" "$dmsgs")
				[ "$t" != FAIL ] && { rate "$dmsgs" "$t" >>"$WORK/dload.t"; echo >>"$WORK/dload.t"; }
				if [ $have_source = yes ]; then
					t=$(run_source "$SINK_PORT" "$dmsgs")
					[ "$t" != FAIL ] && { rate "$dmsgs" "$t" >>"$WORK/dsource.t"; echo >>"$WORK/dsource.t"; }
				fi
			done
			dl=$(median <"$WORK/dload.t")
			ds=$(median <"$WORK/dsource.t")
			echo "reference, no sluiced: plain, straight to smtp-sink (c=$CONCURRENCY, $dmsgs msgs per run)"
			printf '  smtpload -> smtp-sink     %9.0f msgs/s\n' "$dl"
			if [ $have_source = yes ]; then
				printf '  smtp-source -> smtp-sink  %9.0f msgs/s   (smtpload/smtp-source %s)\n' "$ds" \
					"$(awk -v a="$dl" -v b="$ds" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }')"
			else
				echo "  (smtp-source not found: no cross-check)"
			fi
		fi
	fi
fi

echo
echo "sluiced at the end: VmRSS $(mib "$(status_kb "$SLUICED_PID" VmRSS)") MiB," \
	"VmHWM $(mib "$(status_kb "$SLUICED_PID" VmHWM)") MiB; total $(( $(date +%s) - START )) s"
status=0
if [ -s "$WORK/sluiced.log" ]; then
	echo
	echo "sluiced log ($(wc -l <"$WORK/sluiced.log") lines at log_level = warning; the last 10):"
	tail -10 "$WORK/sluiced.log"
fi
if [ -s "$WORK/errors" ]; then
	echo
	echo "errors:"
	cat "$WORK/errors"
	status=1
fi
exit $status

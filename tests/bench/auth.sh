#!/usr/bin/env bash
# tests/bench/auth.sh - what sender authentication costs: two sluiced side by
# side in front of one smtp-sink, one without filters and one with spf, dkim
# and dmarc, both behind a PROXY protocol listener (so the client is
# 192.0.2.10, not loopback, and SPF really evaluates), every DNS answer local
# (dns_local_data; the only `dns` server is a UDP socket that never answers).
# 1 KB DKIM-signed messages from tests/bench/smtpload.c at c=100, runs
# alternating between the two; prints msgs/s of each, the ratio, sluiced's CPU
# per message and the filtered one's peak RSS.
#
# Not part of `make check`; run on demand from the top of the tree after a build:
#
#     tests/bench/auth.sh                                 # ./sluiced, c=100, 3 runs
#     SLUICED=_build/bench/sluiced RUNS=5 tests/bench/auth.sh
#
# See tests/bench/README.md for the knobs and for how to read the output.
# Loopback only. Everything this script starts is stopped by pid on exit.

set -u
set -o pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

SLUICED=${SLUICED:-./sluiced}
FILTER_DIR=${FILTER_DIR:-$(dirname "$SLUICED")/filters}   # NAME/.libs/NAME.so below it
RUNS=${RUNS:-3}                      # runs per path; medians are shown
SECS=${SECS:-3}                      # aim for filtered runs this long (seconds)
MSGS=${MSGS:-}                       # messages per run; empty = calibrate
MAX_MSGS=${MAX_MSGS:-10000}          # cap on calibrated messages per run
CONCURRENCY=${CONCURRENCY:-100}      # parallel clients (smtpload --concurrency)
SIZE=${SIZE:-1024}                   # octets of the signed message, header included
CHECK_MSGS=${CHECK_MSGS:-20}         # messages of the evaluation check
WORKERS=${WORKERS:-auto}             # sluiced workers
RUN_TIMEOUT=${RUN_TIMEOUT:-120}      # bound on any one load run
IO_TIMEOUT=${IO_TIMEOUT:-30}         # smtpload's per-socket timeout (seconds)
CLIENT_IP=192.0.2.10                 # the client the PROXY header names (TEST-NET-1)
CC=${CC:-cc}

SMTP_SINK=${SMTP_SINK:-$(command -v smtp-sink || echo /usr/sbin/smtp-sink)}
HERE=$(cd "$(dirname "$0")" && pwd)

[ -x "$SLUICED" ] || die "no sluiced at '$SLUICED' (build it, or set SLUICED=path)"
[ -x "$SMTP_SINK" ] || die "smtp-sink not found (Postfix's test tools)"
for f in spf dkim dmarc; do
	[ -f "$FILTER_DIR/$f/.libs/$f.so" ] || die "no $FILTER_DIR/$f/.libs/$f.so (set FILTER_DIR=)"
done
command -v openssl >/dev/null || die "openssl is needed for the DKIM key"
command -v "$CC" >/dev/null || die "no C compiler ('$CC'); set CC="
command -v python3 >/dev/null || die "python3 is needed (ports, DKIM signing)"
[ -f "$HERE/smtpload.c" ] || die "no $HERE/smtpload.c"

START=$(date +%s)
WORK=$(mktemp -d /tmp/sluice-authbench.XXXXXX) || die "mktemp failed"
WORK=$(cd "$WORK" && pwd)
PIDS=()            # everything started, stopped by pid on exit
SAMPLER_PID=

cleanup() {
	local pid
	for pid in $SAMPLER_PID "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in $SAMPLER_PID "${PIDS[@]}"; do stop_pid "$pid"; done
	if [ -n "${KEEP:-}" ]; then
		echo "bench: logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

alive() {   # NAME PID
	kill -0 "$2" 2>/dev/null || die "sluiced ($1, pid $2) died; log: $WORK/$1/log
$(tail -20 "$WORK/$1/log")"
}

# run_load PORT COUNT [CONC]: one smtpload run of the signed message through
# a PROXY listener; prints elapsed wall seconds, or FAIL (reasons in $WORK/errors).
run_load() {
	local port=$1 count=$2 conc=${3:-$CONCURRENCY} t0 t1 rc
	t0=$(now_ns)
	timeout "$RUN_TIMEOUT" "$WORK/smtpload" --port "$port" --concurrency "$conc" \
		--messages "$count" --timeout "$IO_TIMEOUT" --data "$WORK/msg.eml" \
		--proxy "$CLIENT_IP" --helo mail.example.org \
		--from alice@example.org --to bob@example.com \
		>"$WORK/load.out" 2>"$WORK/load.err"
	rc=$?
	t1=$(now_ns)
	cat "$WORK/load.out" "$WORK/load.err" >>"$WORK/load.log"
	if [ $rc -ne 0 ]; then
		{
			echo "smtpload to port $port (c=$conc m=$count): rc=$rc$([ $rc = 124 ] && echo ' (RUN_TIMEOUT)')"
			grep '^smtpload: [0-9]' "$WORK/load.out" | sed 's/^/    /'
			head -5 "$WORK/load.err" | sed 's/^/    /'
		} >>"$WORK/errors"
		echo FAIL
		return
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'
}

# ---------------------------------------------------------------- set up

"$CC" -O2 -Wall -Wextra -Werror -o "$WORK/smtpload" "$HERE/smtpload.c" -lssl -lcrypto -pthread \
	>"$WORK/cc.log" 2>&1 || die "cannot build smtpload: $(cat "$WORK/cc.log")"

# The DKIM key (RSA 2048, PKCS#1 as python3-dkim reads it), the signed
# message of SIZE octets, and the zone: every name the two sluiced and the
# three filters ask about, answered by libunbound from dns_local_data.
openssl genrsa -traditional -out "$WORK/dkim.pem" 2048 >"$WORK/openssl.log" 2>&1 \
	|| die "openssl genrsa failed: $(tail -5 "$WORK/openssl.log")"
openssl rsa -in "$WORK/dkim.pem" -pubout -outform DER -out "$WORK/dkim.pub.der" >>"$WORK/openssl.log" 2>&1 \
	|| die "openssl rsa failed: $(tail -5 "$WORK/openssl.log")"
python3 - "$WORK" "$SIZE" "$CLIENT_IP" >"$WORK/python.log" 2>&1 <<'EOF' || die "cannot sign the message: $(tail -5 "$WORK/python.log")"
import base64, sys, time
try:
    import dkim
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")   # Debian's python3-dkim
    import dkim
work, size, ip = sys.argv[1], int(sys.argv[2]), sys.argv[3]
key = open(work + "/dkim.pem", "rb").read()
pub = base64.b64encode(open(work + "/dkim.pub.der", "rb").read()).decode()

def message(body_octets):
    head = ("From: Alice <alice@example.org>\r\nTo: <bob@example.com>\r\n"
            "Subject: sluice auth benchmark\r\n"
            "Date: %s\r\nMessage-ID: <authbench.%d@example.org>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            % (time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()), int(time.time())))
    body, i = "", 0
    while len(body) < body_octets:
        n = min(70, body_octets - len(body) - 2)
        body += ("line %04d " % i + "abcdefghijklmnopqrstuvwxyz" * 3)[:max(n, 1)] + "\r\n"
        i += 1
    m = (head + body).encode()
    return dkim.sign(m, b"sel", b"example.org", key, canonicalize=(b"relaxed", b"relaxed"),
                     include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + m

probe = message(100)                          # the signature's length is fixed
msg = message(max(100, size - (len(probe) - 100)))
assert dkim.verify(msg, dnsfunc=lambda name, timeout=5: ("v=DKIM1; k=rsa; p=" + pub).encode()), \
    "python3-dkim does not verify its own signature"
open(work + "/msg.eml", "wb").write(msg)

def txt(v):
    return " ".join('"%s"' % v[i:i + 255] for i in range(0, len(v), 255))

rev = ".".join(reversed(ip.split("."))) + ".in-addr.arpa."
spf = '"v=spf1 ip4:192.0.2.0/24 -all"'
with open(work + "/local.zone", "w") as f:
    f.write("%s 300 IN PTR mail.example.org.\n" % rev)          # client name (PTR...
    f.write("mail.example.org. 300 IN A %s\n" % ip)             # ... forward-confirmed)
    f.write("mail.example.org. 300 IN TXT %s\n" % spf)          # SPF, HELO identity
    f.write("example.org. 300 IN TXT %s\n" % spf)               # SPF, MAIL FROM identity
    f.write("sel._domainkey.example.org. 300 IN TXT %s\n" % txt("v=DKIM1; k=rsa; p=" + pub))
    f.write('_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject"\n')
print(len(msg))
EOF

# A "DNS server" that never answers: a bound UDP socket that reads each query,
# notes its name and type in $WORK/dns.asked, and says nothing. Nothing leaves
# the machine; a name missing from local.zone would time out, and shows up in
# dns.asked (the check below fails on either).
python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
out = open(sys.argv[1], "a")
while True:
    d, _ = s.recvfrom(4096)
    i, labels = 12, []
    while i < len(d) and d[i] != 0 and len(labels) < 128:
        labels.append(d[i + 1:i + 1 + d[i]].decode("ascii", "replace")); i += 1 + d[i]
    qtype = struct.unpack("!H", d[i + 1:i + 3])[0] if i + 3 <= len(d) else 0
    out.write("%s. type %d\n" % (".".join(labels), qtype)); out.flush()
' "$WORK/dns.asked" >"$WORK/blackhole.port" 2>"$WORK/blackhole.log" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$WORK/blackhole.port" ] && break; sleep 0.1; done
DNS_PORT=$(cat "$WORK/blackhole.port")
[ -n "$DNS_PORT" ] || die "the silent DNS socket did not start: $(cat "$WORK/blackhole.log")"

SINK_PORT=$(free_port)
SINK_USER=$([ "$(id -u)" = 0 ] && echo "-u nobody")
"$SMTP_SINK" $SINK_USER -4 -m 2000 "127.0.0.1:$SINK_PORT" 1000 >"$WORK/sink.log" 2>&1 &
PIDS+=($!)
wait_banner "$SINK_PORT" 10 || die "smtp-sink did not start: $(cat "$WORK/sink.log")"

# start_sluiced NAME FILTERS(0|1) LOGLEVEL: a sluiced with one PROXY v1
# listener; sets PORT_<NAME> and PID_<NAME>. Both paths get the same
# configuration (DNS, PROXY, limits) apart from the filters.
start_sluiced() {
	local name=$1 filters=$2 level=$3 port pid
	port=$(free_port)
	mkdir -p "$WORK/$name/spool"
	{
		cat <<EOF
[sluice]
backend = 127.0.0.1:$SINK_PORT
hostname = sluice.test
workers = $WORKERS
max_connections = 5000
max_connections_per_ip = 5000
min_data_rate = 0
spool_dir = $WORK/$name/spool
log_level = $level
dns = 127.0.0.1:$DNS_PORT
dns_local_data = $WORK/local.zone

[listener bench]
address = 127.0.0.1:$port
proxy_protocol = v1
trusted = 127.0.0.1
EOF
		if [ "$filters" = 1 ]; then
			for f in spf dkim dmarc; do
				printf '\n[filter %s]\nmodule = %s\n' "$f" "$(cd "$FILTER_DIR/$f/.libs" && pwd)/$f.so"
			done
		fi
	} >"$WORK/$name/sluice.conf"
	"$SLUICED" -f -c "$WORK/$name/sluice.conf" >"$WORK/$name/log" 2>&1 &
	pid=$!
	PIDS+=($pid)
	wait_banner "$port" 15 "$CLIENT_IP" || die "sluiced ($name) did not start: $(tail -20 "$WORK/$name/log")"
	printf -v "PORT_$name" '%s' "$port"
	printf -v "PID_$name" '%s' "$pid"
}

echo "sluiced $SLUICED, workers=$WORKERS; filters spf, dkim, dmarc from $FILTER_DIR"
echo "runs=$RUNS, ~${SECS}s per filtered run, c=$CONCURRENCY, message $(wc -c <"$WORK/msg.eml") octets (DKIM rsa-sha256, 2048 bits, relaxed/relaxed)," \
	"client $CLIENT_IP via PROXY v1, cpus=$(nproc), $(uname -sr)"

# ------------------------------------------- check: did the filters evaluate?

# A third sluiced, the filtered configuration at log_level = info, and a few
# messages through it: every one must get spf pass, dkim pass and dmarc pass
# (one INFO line each per message), and nothing may have waited on DNS.
start_sluiced check 1 info
t=$(run_load "$PORT_check" "$CHECK_MSGS" 5)
sleep 0.3
stop_pid "$PID_check"
clog=$WORK/check/log
# (wait_banner's probe is one more connection, from port 40000, without a message)
n_conn=$(grep "connect from mail.example.org\[$CLIENT_IP\]:" "$clog" | grep -vc "\]:40000 ")
n_acc=$(grep -c 'from=<alice@example.org> nrcpt=1 size=[0-9]* result=accepted' "$clog")
n_spf=$(grep -c "filter spf: mailfrom <alice@example.org> from $CLIENT_IP: pass.*; helo mail.example.org: pass; action none" "$clog")
n_dkim=$(grep -c 'filter dkim: verify: 1 signature: pass d=example.org s=sel' "$clog")
n_dmarc=$(grep -c 'filter dmarc: dmarc=pass header.from=example.org' "$clog")
: >>"$WORK/dns.asked"
n_dns=$(wc -l <"$WORK/dns.asked")
n_bad=$(grep -ciE 'temperror|timed out|timeout| sluiced (warning|error|crit|alert|emerg) ' "$clog")
echo
echo "check ($CHECK_MSGS messages, log_level = info): connect from mail.example.org[$CLIENT_IP] $n_conn," \
	"accepted $n_acc, spf pass $n_spf, dkim pass $n_dkim, dmarc pass $n_dmarc, error/timeout lines $n_bad," \
	"queries that reached the (silent) DNS server $n_dns"
for pat in 'filter spf:' 'filter dkim:' 'filter dmarc:'; do
	grep -m1 "$pat" "$clog" | sed 's/^/  /'
done
if [ "$t" = FAIL ] || [ "$n_conn" -ne "$CHECK_MSGS" ] || [ "$n_acc" -ne "$CHECK_MSGS" ] || [ "$n_spf" -ne "$CHECK_MSGS" ] ||
   [ "$n_dkim" -ne "$CHECK_MSGS" ] || [ "$n_dmarc" -ne "$CHECK_MSGS" ] || [ "$n_bad" -ne 0 ] || [ "$n_dns" -ne 0 ]; then
	echo "CHECK FAILED: the filtered path did not evaluate every message to pass; its log:" >&2
	tail -40 "$clog" >&2
	[ "$n_dns" -ne 0 ] && { echo "names not in local.zone:" >&2; sort -u "$WORK/dns.asked" >&2; }
	[ -s "$WORK/errors" ] && cat "$WORK/errors" >&2
	exit 1
fi

# ---------------------------------------------------------------- the runs

start_sluiced plain 0 warning
start_sluiced filtered 1 warning
echo "plain: pid $PID_plain, port $PORT_plain; filtered: pid $PID_filtered, port $PORT_filtered; smtp-sink 127.0.0.1:$SINK_PORT; dns 127.0.0.1:$DNS_PORT (silent)"

# Background sampler of the filtered sluiced's VmRSS (a cross-check of VmHWM).
echo 0 >"$WORK/rss_max"
(
	m=0
	while kill -0 "$PID_filtered" 2>/dev/null; do
		[ -f "$WORK/rss_reset" ] && { rm -f "$WORK/rss_reset"; m=0; echo 0 >"$WORK/rss_max"; }
		r=$(status_kb "$PID_filtered" VmRSS)
		if [ -n "$r" ] && [ "$r" -gt "$m" ]; then m=$r; echo "$m" >"$WORK/rss_max"; fi
		sleep 0.2
	done
) &
SAMPLER_PID=$!

# Warm-up, one run each (the filtered one also calibrates the message count).
cal=$(( CONCURRENCY * 10 > 200 ? CONCURRENCY * 10 : 200 ))
t=$(run_load "$PORT_plain" "$cal")
[ "$t" = FAIL ] && die "warm-up through the plain sluiced FAILED: $(cat "$WORK/errors")"
wp=$(rate "$cal" "$t")
t=$(run_load "$PORT_filtered" "$cal")
[ "$t" = FAIL ] && die "warm-up through the filtered sluiced FAILED: $(cat "$WORK/errors")"
wf=$(rate "$cal" "$t")
msgs=$MSGS
[ -n "$msgs" ] || msgs=$(awk -v n="$cal" -v t="$t" -v s="$SECS" -v c="$CONCURRENCY" -v max="$MAX_MSGS" 'BEGIN {
	m = int(n / t * s); if (m < c * 2) m = c * 2; if (m > max) m = max; m = int((m + c - 1) / c) * c; print m }')
echo "warm-up ($cal msgs): plain $wp msgs/s, filtered $wf msgs/s; $msgs msgs per timed run"

: >"$WORK/plain.t"; : >"$WORK/filtered.t"; : >"$WORK/plain.cpu"; : >"$WORK/filtered.cpu"
: >"$WORK/plain.gcpu"; : >"$WORK/filtered.gcpu"
hwm_plain=0; hwm_filtered=0; rss_filtered=0; fails=0
for _ in $(seq "$RUNS"); do
	# alternate the two paths, so drift (other load) hits both alike
	for path in plain filtered; do
		pidv=PID_$path; portv=PORT_$path
		pid=${!pidv}
		alive "$path" "$pid"
		reset_hwm "$pid"
		[ $path = filtered ] && touch "$WORK/rss_reset"
		sleep 0.3
		c0=$(cpu_ticks "$pid")
		t=$(run_load "${!portv}" "$msgs")
		c1=$(cpu_ticks "$pid")
		hwm=$(status_kb "$pid" VmHWM)
		if [ $path = filtered ]; then
			hwm_filtered=$(max "$hwm_filtered" "$hwm"); rss_filtered=$(max "$rss_filtered" "$(cat "$WORK/rss_max")")
		else
			hwm_plain=$(max "$hwm_plain" "$hwm")
		fi
		if [ "$t" = FAIL ]; then fails=$((fails + 1)); continue; fi
		rate "$msgs" "$t" >>"$WORK/$path.t"; echo >>"$WORK/$path.t"
		awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" -v m="$msgs" \
			'BEGIN { printf "%.3f\n", (b - a) * 1000 / hz / m }' >>"$WORK/$path.cpu"
		awk -v m="$msgs" '$1 == "cpu" { printf "%.3f\n", $2 * 1000 / m }' "$WORK/load.out" >>"$WORK/$path.gcpu"
	done
done
alive plain "$PID_plain"; alive filtered "$PID_filtered"

p=$(median <"$WORK/plain.t"); f=$(median <"$WORK/filtered.t")
ratio=$(awk -v p="$p" -v f="$f" 'BEGIN { if (p + 0 > 0 && f + 0 > 0) printf "%.2f", f / p; else print "-" }')
echo
printf '%5s %6s %6s %9s %11s %6s %11s %14s %9s %9s\n' conc size msgs "plain/s" "filtered/s" ratio \
	"cpu plain" "cpu filtered" "peak MiB" "rss MiB"
printf '%5s %6s %6s %9.0f %11.0f %6s %11.3f %14.3f %9s %9s%s\n' "$CONCURRENCY" "$(wc -c <"$WORK/msg.eml")" \
	"$msgs" "$p" "$f" "$ratio" "$(median <"$WORK/plain.cpu")" "$(median <"$WORK/filtered.cpu")" \
	"$(mib "$hwm_filtered")" "$(mib "$rss_filtered")" "$([ $fails -gt 0 ] && echo "  ($fails runs FAILED)")"
echo "  runs plain/s    $(tr '\n' ' ' <"$WORK/plain.t")"
echo "  runs filtered/s $(tr '\n' ' ' <"$WORK/filtered.t")"
echo "  cpu = sluiced's user+system ms per message (median); smtpload's own: plain $(median <"$WORK/plain.gcpu"), filtered $(median <"$WORK/filtered.gcpu")"
echo "  peak/rss = the filtered sluiced's VmHWM / sampled VmRSS over its runs; the plain one's VmHWM: $(mib "$hwm_plain") MiB"
[ "$HWM_RESETS" = no ] && echo "  (VmHWM could not be reset: peaks are since start)"
awk -v r="$ratio" 'BEGIN { if (r == "-") print "target (ratio >= 0.50): no result"; else printf "target (ratio >= 0.50): %s\n", (r + 0 >= 0.5 ? "met" : "NOT met") }'
echo "DNS queries not answered from local data (sent to the silent server), whole run: $(wc -l <"$WORK/dns.asked")"
echo "total $(( $(date +%s) - START )) s"

status=0
for n in plain filtered; do
	if [ -s "$WORK/$n/log" ]; then
		echo
		echo "$n sluiced log ($(wc -l <"$WORK/$n/log") lines at log_level = warning; the last 5):"
		tail -5 "$WORK/$n/log"
	fi
done
if [ -s "$WORK/errors" ]; then
	echo
	echo "errors:"
	cat "$WORK/errors"
	status=1
fi
exit $status

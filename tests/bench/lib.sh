# tests/bench/lib.sh - helpers the benchmark scripts share; sourced, not run.
# Loopback only; every process is stopped by its pid.

die() { echo "bench: $*" >&2; exit 1; }

# stop_pid PID: TERM, a bounded wait (5 s), then KILL that one pid.
stop_pid() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

now_ns() { date +%s%N; }

# wait_banner PORT [SECONDS] [CLIENT_IP]: true once something on 127.0.0.1:PORT
# says 220; with CLIENT_IP, after a PROXY v1 header naming it (from port 40000).
wait_banner() {
	local port=$1 end=$(( $(date +%s) + ${2:-15} )) hdr=
	[ -n "${3:-}" ] && hdr="PROXY TCP4 $3 127.0.0.1 40000 $port\r\n"
	while [ "$(date +%s)" -lt "$end" ]; do
		if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf '$hdr' >&3 && head -c 3 <&3" \
			2>/dev/null | grep -q '^220'; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# status_kb PID FIELD: a /proc/PID/status field (VmRSS, VmHWM) in kB.
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

# reset_hwm PID: VmHWM back to the current RSS (Linux >= 4.0: "5" in clear_refs).
# Root only; when it fails, VmHWM stays the peak since start (HWM_RESETS=no).
HWM_RESETS=yes
reset_hwm() { echo 5 2>/dev/null >"/proc/$1/clear_refs" || HWM_RESETS=no; }

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

mib() { awk -v k="${1:-0}" 'BEGIN { printf "%.1f", k / 1024 }'; }

max() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { print (a + 0 > b + 0 ? a : b) }'; }

# rate COUNT SECONDS: messages per second, one decimal.
rate() { awk -v m="$1" -v t="$2" 'BEGIN { printf "%.1f", m / t }'; }

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks (CLK_TCK).
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }

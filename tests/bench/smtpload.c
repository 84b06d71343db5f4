/*
 * tests/bench/smtpload.c - a small SMTP load generator with optional STARTTLS,
 * for tests/bench/tls.sh (smtp-source cannot do TLS) and tests/bench/auth.sh
 * (PROXY protocol, a given message).
 *
 *     cc -O2 -Wall -Wextra -Werror -o smtpload smtpload.c -lssl -lcrypto -pthread
 *     smtpload --port 2525 --concurrency 100 --messages 3000 --size 1024 [--starttls]
 *
 * CONCURRENCY threads, one blocking client each. Every message is its own
 * connection (as smtp-source without -d, and as on an MX): connect, 220,
 * EHLO, [STARTTLS, 220, TLS handshake, EHLO,] MAIL FROM, RCPT TO, DATA, the
 * message, ".", QUIT, close. Every reply is checked; a wrong code, a timeout
 * or a closed connection makes that message a failure, and the client goes on
 * with the next one. Exit status: 0 if every message succeeded, 1 if any
 * failed, 2 on a usage or setup error. Output (stdout), for scripts:
 *
 *     smtpload: 3000 messages (3000 ok, 0 failed), 100 clients, starttls, 1024 octets
 *     tls: TLSv1.3 TLS_AES_256_GCM_SHA384, server key RSA-2048; resumed 0 of 3000
 *     elapsed 2.345678 s, 1279.0 msgs/s
 *     cpu 2.910 s (user 2.130, sys 0.780)
 *
 * msgs/s counts only the messages that succeeded; cpu is the generator's own
 * (getrusage), to tell how much of the machine the load itself took. Every
 * socket has SO_RCVTIMEO/SO_SNDTIMEO (--timeout), so a stalled peer ends a
 * session, and the run always ends. The TLS client verifies nothing (the server certificate
 * is a throwaway) and sends SNI (--sni); with --resume each client offers the
 * session of its previous message (abbreviated handshake, as MTAs that cache
 * TLS sessions do). The "tls:" line names what the first handshake
 * negotiated. Loopback use is intended.
 *
 * --data FILE sends that message instead of the generated one (--size is then
 * ignored): its lines get CRLF endings (a bare LF becomes CRLF), a missing
 * final line end is added, and it is dot-stuffed here; send it as it should
 * arrive (e.g. DKIM-signed), not stuffed. --proxy ADDR makes every
 * connection start with a PROXY protocol v1 header naming ADDR (IPv4) as
 * the client: "PROXY TCP4 ADDR HOST SPORT PORT\r\n", SPORT being the
 * socket's real local port, sent before the greeting is read (for sluiced
 * listeners with proxy_protocol = v1 and trusted = 127.0.0.1).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define MAX_PRINTED_FAILURES 20

static const char *opt_host = "127.0.0.1";
static int opt_port;
static int opt_conc = 10;
static long opt_messages = 1000;
static long opt_size = 1024;
static int opt_starttls;
static int opt_resume;
static int opt_timeout = 30;
static const char *opt_sni = "sluice.test";
static const char *opt_helo = "client.example";
static const char *opt_from = "sender@example.org";
static const char *opt_to = "rcpt@example.com";
static const char *opt_data;  /* --data FILE: the message to send, or NULL */
static const char *opt_proxy; /* --proxy ADDR: PROXY v1 source address, or NULL */

static struct sockaddr_in server;
static SSL_CTX *ctx;
static char *wire;            /* the message, dot-stuffed, with the final ".\r\n" */
static size_t wire_len;
static size_t msg_octets;     /* the message before dot-stuffing */

static atomic_long next_msg;  /* messages handed out so far */
static atomic_long n_ok;
static atomic_long n_failed;
static atomic_int n_printed;
static atomic_long n_resumed; /* TLS handshakes that resumed a session */
static atomic_int tls_noted;  /* tls_info has been written */
static char tls_info[256];    /* protocol, cipher, server key of a handshake */
static pthread_barrier_t start_line;

/* ------------------------------------------------------------ one connection */

struct conn {
	int fd;
	SSL *ssl;                 /* NULL before the handshake */
	char buf[4096];
	size_t pos, len;
	char line[512];           /* the last reply line, for error messages */
	int client;
	long msg;
	const char *stage;
};

static void fail(struct conn *c, const char *fmt, ...)
{
	char why[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	int i = atomic_fetch_add(&n_printed, 1);
	if (i < MAX_PRINTED_FAILURES)
		fprintf(stderr, "smtpload: client %d, message %ld, %s: %s\n",
		        c->client, c->msg, c->stage, why);
	else if (i == MAX_PRINTED_FAILURES)
		fprintf(stderr, "smtpload: (more failures not shown)\n");
}

/* Why an I/O call failed: OpenSSL's reason if it has one, else errno. */
static const char *io_reason(struct conn *c, int ret, char *out, size_t size)
{
	int saved = errno;
	unsigned long e;

	if (c->ssl != NULL) {
		int err = SSL_get_error(c->ssl, ret);
		e = ERR_get_error();
		ERR_clear_error();
		if (e != 0) {
			ERR_error_string_n(e, out, size);
			return out;
		}
		if (err == SSL_ERROR_ZERO_RETURN)
			return "TLS closed by peer";
		if (err == SSL_ERROR_SYSCALL && ret == 0)
			return "connection closed by peer";
	} else if (ret == 0) {
		return "connection closed by peer";
	}
	if (saved == EAGAIN || saved == EWOULDBLOCK)
		return "timeout";
	snprintf(out, size, "%s", strerror(saved));
	return out;
}

static int fill(struct conn *c)
{
	char why[256];
	ssize_t n;

	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, c->buf, sizeof c->buf);
		n = r;
		if (r <= 0) {
			fail(c, "read: %s", io_reason(c, r, why, sizeof why));
			return -1;
		}
	} else {
		do
			n = recv(c->fd, c->buf, sizeof c->buf, 0);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			fail(c, "read: %s", io_reason(c, (int)n, why, sizeof why));
			return -1;
		}
	}
	c->pos = 0;
	c->len = (size_t)n;
	return 0;
}

/* One line into c->line (CRLF stripped; a longer line is truncated). */
static int read_line(struct conn *c)
{
	size_t k = 0;

	for (;;) {
		if (c->pos == c->len && fill(c) < 0)
			return -1;
		char ch = c->buf[c->pos++];
		if (ch == '\n')
			break;
		if (k < sizeof c->line - 1)
			c->line[k++] = ch;
	}
	if (k > 0 && c->line[k - 1] == '\r')
		k--;
	c->line[k] = '\0';
	return 0;
}

/*
 * Read one reply (multi-line aware: "250-..." lines until "250 ...") and check
 * its code. If keyword is not NULL, *found tells whether a line of the reply
 * has that EHLO keyword.
 */
static int reply(struct conn *c, int expect, const char *keyword, int *found)
{
	char code[4];
	int first = 1;

	if (found != NULL)
		*found = 0;
	for (;;) {
		if (read_line(c) < 0)
			return -1;
		if (strlen(c->line) < 3 || c->line[0] < '1' || c->line[0] > '5' ||
		    (c->line[3] != '\0' && c->line[3] != ' ' && c->line[3] != '-')) {
			fail(c, "malformed reply \"%s\"", c->line);
			return -1;
		}
		if (first) {
			memcpy(code, c->line, 3);
			code[3] = '\0';
			first = 0;
		} else if (memcmp(code, c->line, 3) != 0) {
			fail(c, "code changes within a reply: \"%s\"", c->line);
			return -1;
		}
		if (keyword != NULL && found != NULL) {
			size_t n = strlen(keyword);
			if (strncasecmp(c->line + 4, keyword, n) == 0 &&
			    (c->line[4 + n] == '\0' || c->line[4 + n] == ' '))
				*found = 1;
		}
		if (c->line[3] != '-')
			break;
	}
	if (atoi(code) != expect) {
		fail(c, "expected %d, got \"%s\"", expect, c->line);
		return -1;
	}
	return 0;
}

static int send_all(struct conn *c, const char *p, size_t len)
{
	char why[256];

	while (len > 0) {
		ssize_t n;
		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, p, len > 0x40000000 ? 0x40000000 : (int)len);
			if (r <= 0) {
				fail(c, "write: %s", io_reason(c, r, why, sizeof why));
				return -1;
			}
			n = r;
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fail(c, "write: %s", io_reason(c, (int)n, why, sizeof why));
				return -1;
			}
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int command(struct conn *c, const char *stage, const char *cmd, int expect)
{
	c->stage = stage;
	if (send_all(c, cmd, strlen(cmd)) < 0)
		return -1;
	return reply(c, expect, NULL, NULL);
}

static int tls_start(struct conn *c, SSL_SESSION **session)
{
	char why[256];
	int r;

	c->stage = "TLS handshake";
	if (c->pos != c->len) {
		fail(c, "server sent data after its 220 to STARTTLS");
		return -1;
	}
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, opt_sni) != 1) {
		fail(c, "SSL_new/SSL_set_fd/SNI failed");
		return -1;
	}
	if (*session != NULL)
		SSL_set_session(c->ssl, *session);
	r = SSL_connect(c->ssl);
	if (r != 1) {
		fail(c, "SSL_connect: %s", io_reason(c, r, why, sizeof why));
		return -1;
	}
	if (SSL_session_reused(c->ssl))
		atomic_fetch_add(&n_resumed, 1);
	if (atomic_exchange(&tls_noted, 1) == 0) {
		/* Say what was negotiated, once: which certificate SNI picked. */
		X509 *cert = SSL_get1_peer_certificate(c->ssl);
		EVP_PKEY *key = cert != NULL ? X509_get0_pubkey(cert) : NULL;
		snprintf(tls_info, sizeof tls_info, "%s %s, server key %s-%d",
		         SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl),
		         key != NULL ? EVP_PKEY_get0_type_name(key) : "?",
		         key != NULL ? EVP_PKEY_get_bits(key) : 0);
		X509_free(cert);
	}
	return 0;
}

/* One message on its own connection. 0 on success. */
static int session(struct conn *c, SSL_SESSION **session)
{
	char cmd[1024];
	int has_starttls;
	struct timeval tv = { .tv_sec = opt_timeout, .tv_usec = 0 };

	c->stage = "connect";
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail(c, "socket: %s", strerror(errno));
		return -1;
	}
	/* On Linux SO_SNDTIMEO also bounds connect(). */
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
		fail(c, "setsockopt: %s", strerror(errno));
		return -1;
	}
	if (connect(c->fd, (struct sockaddr *)&server, sizeof server) < 0) {
		fail(c, "connect to %s:%d: %s", opt_host, opt_port,
		     errno == EINPROGRESS ? "timeout" : strerror(errno));
		return -1;
	}

	if (opt_proxy != NULL) {
		struct sockaddr_in local;
		socklen_t len = sizeof local;
		c->stage = "PROXY header";
		if (getsockname(c->fd, (struct sockaddr *)&local, &len) < 0) {
			fail(c, "getsockname: %s", strerror(errno));
			return -1;
		}
		snprintf(cmd, sizeof cmd, "PROXY TCP4 %s %s %u %d\r\n", opt_proxy, opt_host,
		         (unsigned)ntohs(local.sin_port), opt_port);
		if (send_all(c, cmd, strlen(cmd)) < 0)
			return -1;
	}

	c->stage = "greeting";
	if (reply(c, 220, NULL, NULL) < 0)
		return -1;
	snprintf(cmd, sizeof cmd, "EHLO %s\r\n", opt_helo);
	c->stage = "EHLO";
	if (send_all(c, cmd, strlen(cmd)) < 0 || reply(c, 250, "STARTTLS", &has_starttls) < 0)
		return -1;
	if (opt_starttls) {
		if (!has_starttls) {
			fail(c, "STARTTLS not offered in the EHLO reply");
			return -1;
		}
		if (command(c, "STARTTLS", "STARTTLS\r\n", 220) < 0 || tls_start(c, session) < 0)
			return -1;
		if (command(c, "EHLO after STARTTLS", cmd, 250) < 0)
			return -1;
	}
	snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>\r\n", opt_from);
	if (command(c, "MAIL", cmd, 250) < 0)
		return -1;
	snprintf(cmd, sizeof cmd, "RCPT TO:<%s>\r\n", opt_to);
	if (command(c, "RCPT", cmd, 250) < 0)
		return -1;
	if (command(c, "DATA", "DATA\r\n", 354) < 0)
		return -1;
	c->stage = "message";
	if (send_all(c, wire, wire_len) < 0 || reply(c, 250, NULL, NULL) < 0)
		return -1;
	if (command(c, "QUIT", "QUIT\r\n", 221) < 0)
		return -1;
	if (c->ssl != NULL && opt_resume) {
		/* TLS 1.3 tickets arrive after the handshake: by now they have been read. */
		SSL_SESSION *s = SSL_get1_session(c->ssl);
		if (s != NULL) {
			if (*session != NULL)
				SSL_SESSION_free(*session);
			*session = s;
		}
	}
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		/* close_notify, without waiting for the peer's: it has said 221. */
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void *client(void *arg)
{
	struct conn *c = calloc(1, sizeof *c);
	SSL_SESSION *sess = NULL;

	if (c == NULL) {
		fprintf(stderr, "smtpload: out of memory\n");
		exit(2);
	}
	c->client = (int)(long)arg;
	pthread_barrier_wait(&start_line);
	for (;;) {
		long m = atomic_fetch_add(&next_msg, 1);
		if (m >= opt_messages)
			break;
		c->msg = m;
		c->fd = -1;
		c->ssl = NULL;
		c->pos = c->len = 0;
		if (session(c, &sess) == 0)
			atomic_fetch_add(&n_ok, 1);
		else
			atomic_fetch_add(&n_failed, 1);
		conn_close(c);
	}
	if (sess != NULL)
		SSL_SESSION_free(sess);
	free(c);
	return NULL;
}

/* ------------------------------------------------------------ the message */

/*
 * A message of about opt_size octets (header included; the last body line
 * may make it one octet longer): a few header fields, then body lines of 78
 * characters plus CRLF. Dot-stuffed for the wire, then ".\r\n".
 */
static void build_message(void)
{
	static const char alphabet[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_ ";
	char date[64], hdr[1024];
	time_t now = time(NULL);
	struct tm tm;
	size_t cap, k = 0, hl;
	long line = 0;

	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	hl = (size_t)snprintf(hdr, sizeof hdr,
		"From: <%s>\r\nTo: <%s>\r\nSubject: smtpload test message\r\n"
		"Date: %s\r\nMessage-ID: <smtpload.%ld@%s>\r\n\r\n",
		opt_from, opt_to, date, (long)now, opt_helo);

	cap = hl + (size_t)opt_size * 2 + 256;   /* room for stuffing every line */
	char *msg = malloc(cap);
	wire = malloc(cap + (size_t)opt_size / 40 + 16);
	if (msg == NULL || wire == NULL) {
		fprintf(stderr, "smtpload: out of memory\n");
		exit(2);
	}
	memcpy(msg, hdr, hl);
	k = hl;
	while (k < (size_t)opt_size || k == hl) {
		long rest = (long)opt_size - (long)k - 2;
		long n = rest > 78 ? 78 : rest < 1 ? 1 : rest;
		for (long i = 0; i < n; i++)
			msg[k++] = alphabet[(size_t)(line * 7 + i) % (sizeof alphabet - 1)];
		msg[k++] = '\r';
		msg[k++] = '\n';
		line++;
	}
	msg_octets = k;

	/* Dot-stuffing: a line that starts with "." gets another one. */
	size_t w = 0;
	int bol = 1;
	for (size_t i = 0; i < k; i++) {
		if (bol && msg[i] == '.')
			wire[w++] = '.';
		wire[w++] = msg[i];
		bol = msg[i] == '\n';
	}
	memcpy(wire + w, ".\r\n", 3);
	wire_len = w + 3;
	free(msg);
}

/*
 * The message of --data FILE: every line ends in CRLF (a bare LF becomes
 * CRLF, a missing last line end is added; a CR not before LF is left as it
 * is), then dot-stuffed for the wire, then ".\r\n".
 */
static void load_message(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *raw = NULL, *msg;
	size_t len = 0, cap = 0, k = 0;

	if (f == NULL) {
		fprintf(stderr, "smtpload: --data %s: %s\n", path, strerror(errno));
		exit(2);
	}
	for (;;) {
		if (cap - len < 65536) {
			cap = cap * 2 + 65536;
			raw = realloc(raw, cap);
			if (raw == NULL) {
				fprintf(stderr, "smtpload: out of memory\n");
				exit(2);
			}
		}
		size_t n = fread(raw + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "smtpload: --data %s: read error\n", path);
		exit(2);
	}
	fclose(f);
	if (len == 0) {
		fprintf(stderr, "smtpload: --data %s: empty file\n", path);
		exit(2);
	}

	msg = malloc(len * 2 + 2);
	wire = malloc(len * 3 + 8);        /* every line "." (stuffed) at worst */
	if (msg == NULL || wire == NULL) {
		fprintf(stderr, "smtpload: out of memory\n");
		exit(2);
	}
	for (size_t i = 0; i < len; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			msg[k++] = '\r';
		msg[k++] = raw[i];
	}
	if (msg[k - 1] != '\n') {
		if (msg[k - 1] != '\r')
			msg[k++] = '\r';
		msg[k++] = '\n';
	}
	free(raw);
	msg_octets = k;

	size_t w = 0;
	int bol = 1;
	for (size_t i = 0; i < k; i++) {
		if (bol && msg[i] == '.')
			wire[w++] = '.';
		wire[w++] = msg[i];
		bol = msg[i] == '\n';
	}
	memcpy(wire + w, ".\r\n", 3);
	wire_len = w + 3;
	free(msg);
}

/* ------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr,
		"usage: smtpload --port PORT [--host ADDR] [--concurrency N] [--messages N]\n"
		"                [--size OCTETS] [--starttls] [--resume] [--sni NAME]\n"
		"                [--timeout SECONDS] [--helo NAME] [--from ADDR] [--to ADDR]\n"
		"                [--data FILE] [--proxy IPV4ADDR]\n");
	exit(2);
}

static long number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "smtpload: bad number '%s' (%ld..%ld)\n", s, min, max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "messages", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },
		{ "starttls", no_argument, NULL, 'S' },
		{ "resume", no_argument, NULL, 'r' },
		{ "sni", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "helo", required_argument, NULL, 'e' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'T' },
		{ "data", required_argument, NULL, 'd' },
		{ "proxy", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct timespec t0, t1;
	pthread_attr_t attr;
	pthread_t *tids;
	int ch, started = 0;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'H': opt_host = optarg; break;
		case 'p': opt_port = (int)number(optarg, 1, 65535); break;
		case 'c': opt_conc = (int)number(optarg, 1, 10000); break;
		case 'm': opt_messages = number(optarg, 1, 100000000); break;
		case 's': opt_size = number(optarg, 1, 1L << 30); break;
		case 'S': opt_starttls = 1; break;
		case 'r': opt_resume = 1; break;
		case 'n': opt_sni = optarg; break;
		case 't': opt_timeout = (int)number(optarg, 1, 3600); break;
		case 'e': opt_helo = optarg; break;
		case 'f': opt_from = optarg; break;
		case 'T': opt_to = optarg; break;
		case 'd': opt_data = optarg; break;
		case 'P': opt_proxy = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || opt_port == 0)
		usage();
	server.sin_family = AF_INET;
	server.sin_port = htons((unsigned short)opt_port);
	if (inet_pton(AF_INET, opt_host, &server.sin_addr) != 1) {
		fprintf(stderr, "smtpload: --host needs a numeric IPv4 address\n");
		return 2;
	}
	if (opt_proxy != NULL) {
		struct in_addr a;
		if (inet_pton(AF_INET, opt_proxy, &a) != 1) {
			fprintf(stderr, "smtpload: --proxy needs a numeric IPv4 address\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);

	if (opt_starttls) {
		ctx = SSL_CTX_new(TLS_client_method());
		if (ctx == NULL) {
			ERR_print_errors_fp(stderr);
			return 2;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	if (opt_data != NULL)
		load_message(opt_data);
	else
		build_message();

	if (opt_conc > opt_messages)
		opt_conc = (int)opt_messages;
	tids = calloc((size_t)opt_conc, sizeof *tids);
	if (tids == NULL || pthread_barrier_init(&start_line, NULL, (unsigned)opt_conc + 1) != 0) {
		fprintf(stderr, "smtpload: out of memory\n");
		return 2;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (int i = 0; i < opt_conc; i++) {
		int e = pthread_create(&tids[i], &attr, client, (void *)(long)i);
		if (e != 0) {
			fprintf(stderr, "smtpload: pthread_create: %s\n", strerror(e));
			return 2;    /* the barrier would never open: just exit */
		}
		started++;
	}
	pthread_barrier_wait(&start_line);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	long ok = atomic_load(&n_ok), failed = atomic_load(&n_failed);
	printf("smtpload: %ld messages (%ld ok, %ld failed), %d clients, %s%s%s%s, %zu octets%s%s\n",
	       opt_messages, ok, failed, opt_conc, opt_starttls ? "starttls" : "plain",
	       opt_starttls && opt_resume ? " --resume" : "",
	       opt_proxy != NULL ? ", proxy " : "", opt_proxy != NULL ? opt_proxy : "",
	       msg_octets, opt_data != NULL ? " from " : "", opt_data != NULL ? opt_data : "");
	if (opt_starttls)
		printf("tls: %s; resumed %ld of %ld\n",
		       tls_info[0] != '\0' ? tls_info : "no handshake completed",
		       atomic_load(&n_resumed), ok + failed);
	printf("elapsed %.6f s, %.1f msgs/s\n", secs, secs > 0 ? (double)ok / secs : 0.0);
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		printf("cpu %.3f s (user %.3f, sys %.3f)\n",
		       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
		       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
		       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	if (ctx != NULL)
		SSL_CTX_free(ctx);
	free(tids);
	free(wire);
	return failed > 0 ? 1 : 0;
}

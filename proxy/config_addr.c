/* config_addr.c - socket addresses in sluice.conf: parsing, host names, printing. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config_addr.h"
#include "util.h"

void
config_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	socklen_t salen;

	if (sa->sa_family == AF_INET)
		salen = sizeof(struct sockaddr_in);
	else if (sa->sa_family == AF_INET6)
		salen = sizeof(struct sockaddr_in6);
	else {
		strlcpy_s(buf, "?", len);
		return;
	}
	if (getnameinfo(sa, salen, host, sizeof(host), serv, sizeof(serv),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		strlcpy_s(buf, "?", len);
		return;
	}
	if (sa->sa_family == AF_INET6)
		xsnprintf(buf, len, "[%s]:%s", host, serv);
	else
		xsnprintf(buf, len, "%s:%s", host, serv);
}

static bool
port_valid(const char *s)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	return v >= 1 && v <= 65535;
}

bool
config_hostname_valid(const char *s)
{
	size_t label = 0, total = strlen(s);

	if (total == 0 || total > 253)
		return false;
	for (const char *p = s; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			if (*p == '\0')
				return true;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || (*p == '-' && label > 0)))
			return false;
		label++;
	}
}

static int
addr_resolve(const char *host, const char *port, int flags, struct config_addr *addr_r,
             const char **err_r)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = flags | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		*err_r = rc == EAI_SYSTEM ? "cannot resolve the host name" : gai_strerror(rc);
		return -1;
	}
	memset(addr_r, 0, sizeof(*addr_r));
	memcpy(&addr_r->ss, res->ai_addr, res->ai_addrlen);
	addr_r->len = res->ai_addrlen;
	freeaddrinfo(res);
	config_addr_format((struct sockaddr *)&addr_r->ss, addr_r->text, sizeof(addr_r->text));
	return 0;
}

int
config_addr_split(const char *s, char *host, size_t hostlen, const char **port_r,
                  bool *bracketed_r, const char **err_r)
{
	const char *colon;
	size_t n;

	*bracketed_r = s[0] == '[';
	if (*bracketed_r) {
		const char *close = strchr(s, ']');

		if (close == NULL) {
			*err_r = "missing ']' after the IPv6 address";
			return -1;
		}
		if (close[1] != ':') {
			*err_r = "missing ':PORT' after ']'";
			return -1;
		}
		n = (size_t)(close - s - 1);
		colon = close + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			*err_r = "missing ':PORT'";
			return -1;
		}
		n = (size_t)(colon - s);
		if (memchr(s, ':', n) != NULL) {
			*err_r = "an IPv6 address must be in brackets, as in [::1]:25";
			return -1;
		}
	}
	if (n == 0) {
		*err_r = "missing address before ':PORT'";
		return -1;
	}
	if (n >= hostlen) {
		*err_r = "address too long";
		return -1;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	*port_r = colon + 1;
	if (!port_valid(*port_r)) {
		*err_r = "port must be a number from 1 to 65535";
		return -1;
	}
	return 0;
}

int
config_parse_addr(const char *s, int allow_names, struct config_addr *addr_r, const char **err_r)
{
	char host[256];
	const char *port;
	bool bracketed;
	struct in_addr in4;

	if (config_addr_split(s, host, sizeof(host), &port, &bracketed, err_r) < 0)
		return -1;
	if (bracketed) {
		/* getaddrinfo rather than inet_pton: it keeps a %scope for link-local. */
		if (strchr(host, ':') == NULL ||
		    addr_resolve(host, port, AI_NUMERICHOST, addr_r, err_r) < 0 ||
		    addr_r->ss.ss_family != AF_INET6) {
			*err_r = "not an IPv6 address inside [ ]";
			return -1;
		}
		return 0;
	}
	/* inet_pton, not getaddrinfo: it refuses inet_aton's "127.1" and "0x7f.1". */
	if (inet_pton(AF_INET, host, &in4) == 1)
		return addr_resolve(host, port, AI_NUMERICHOST, addr_r, err_r);
	if (!allow_names) {
		*err_r = "not a numeric IPv4 address (names are not allowed here)";
		return -1;
	}
	if (!config_hostname_valid(host) || strspn(host, "0123456789.") == strlen(host)) {
		*err_r = "not an IPv4 address or a host name";
		return -1;
	}
	return addr_resolve(host, port, 0, addr_r, err_r);
}

int
config_parse_dns(const char *s, char *out, size_t outlen, const char **err_r)
{
	char host[256], text[INET6_ADDRSTRLEN];
	const char *port = "53", *colon = strchr(s, ':');
	unsigned char bin[sizeof(struct in6_addr)];
	bool bracketed;
	size_t n = strlen(s);
	int family;

	if (s[0] == '[' && n > 2 && s[n - 1] == ']') {
		n -= 2;                      /* "[V6]" */
		s++;
		bracketed = true;
	} else if (s[0] == '[' || (colon != NULL && strchr(colon + 1, ':') == NULL)) {
		if (config_addr_split(s, host, sizeof(host), &port, &bracketed, err_r) < 0)
			return -1;           /* "[V6]:PORT", "ADDR:PORT" */
		s = host;
		n = strlen(host);
	} else
		bracketed = colon != NULL;   /* "ADDR", or a bare IPv6 address */
	if (n == 0 || n >= sizeof(host)) {
		*err_r = n == 0 ? "missing address" : "address too long";
		return -1;
	}
	memmove(host, s, n);
	host[n] = '\0';
	family = bracketed ? AF_INET6 : AF_INET;
	/* inet_pton refuses inet_aton's "127.1" and a %scope: unbound takes neither. */
	if (inet_pton(family, host, bin) != 1 || inet_ntop(family, bin, text, sizeof(text)) == NULL) {
		*err_r = bracketed ? "not a numeric IPv6 address" : "not a numeric IPv4 address";
		return -1;
	}
	while (port[0] == '0' && port[1] != '\0')
		port++;
	xsnprintf(out, outlen, "%s@%s", text, port);
	return 0;
}

void
config_addr_key16(const struct sockaddr *sa, unsigned char out[16])
{
	memset(out, 0, 16);
	if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	}
}

static bool
prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	return rest == 0 || ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest)) & 0xff) == 0;
}

int
config_parse_cidr(const char *s, struct config_cidr *cidr_r, const char **err_r)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned char bin[16];
	unsigned long bits, max;
	bool v6 = memchr(s, ':', n) != NULL;

	if (n == 0 || n >= sizeof(host)) {
		*err_r = n == 0 ? "missing address" : "address too long";
		return -1;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, bin) != 1) {
		*err_r = v6 ? "not a numeric IPv6 address" : "not a numeric IPv4 address";
		return -1;
	}
	max = v6 ? 128 : 32;
	bits = max;
	if (slash != NULL) {
		const char *p = slash + 1;

		if (*p == '\0' || strlen(p) > 3 || strspn(p, "0123456789") != strlen(p) ||
		    (p[0] == '0' && p[1] != '\0') || (bits = strtoul(p, NULL, 10)) > max) {
			*err_r = v6 ? "prefix length must be a number from 0 to 128"
			            : "prefix length must be a number from 0 to 32";
			return -1;
		}
	}
	memset(cidr_r, 0, sizeof(*cidr_r));
	if (v6) {
		memcpy(cidr_r->addr, bin, 16);
		cidr_r->bits = (unsigned)bits;
	} else {
		cidr_r->addr[10] = cidr_r->addr[11] = 0xff;
		memcpy(cidr_r->addr + 12, bin, 4);
		cidr_r->bits = 96 + (unsigned)bits;
	}
	/* 192.0.2.7/24 is most likely a typo for a host or for 192.0.2.0/24: refuse. */
	{
		unsigned char masked[16];

		memcpy(masked, cidr_r->addr, 16);
		for (unsigned i = cidr_r->bits; i < 128; i++)
			masked[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
		if (memcmp(masked, cidr_r->addr, 16) != 0) {
			*err_r = "address has bits set past the prefix length";
			return -1;
		}
	}
	return 0;
}

bool
config_cidr_match(const struct config_cidr *list, size_t n, const struct sockaddr *sa)
{
	unsigned char a[16];

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return false;
	config_addr_key16(sa, a);
	for (size_t i = 0; i < n; i++)
		if (prefix_equal(a, list[i].addr, list[i].bits))
			return true;
	return false;
}

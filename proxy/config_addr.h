/* config_addr.h - socket addresses as written in sluice.conf: parsing and printing. */
#ifndef SLUICE_CONFIG_ADDR_H
#define SLUICE_CONFIG_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* A numeric socket address as written in the file, plus its printable form. */
struct config_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];            /* "127.0.0.1:2525" or "[::1]:2525" */
};

/* Parse "ADDR:PORT", "[V6]:PORT" or "HOST:PORT" (host only when allow_names).
 * Returns 0 and fills addr_r, or -1 and a static message in *err_r. Blocking when
 * allow_names (resolves the name). */
int config_parse_addr(const char *s, int allow_names, struct config_addr *addr_r, const char **err_r);

/* Format a sockaddr as "ip:port" / "[ip6]:port". */
void config_addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* Split "HOST:PORT" or "[V6]:PORT" into host (NUL-terminated, without brackets, in
 * a buffer of hostlen) and *port_r (points into s; checked to be 1..65535). Nothing
 * is resolved. Returns 0, or -1 and a static message in *err_r. */
int config_addr_split(const char *s, char *host, size_t hostlen, const char **port_r,
                      bool *bracketed_r, const char **err_r);

/* A DNS server as written for `dns`: "ADDR", "ADDR:PORT", "V6", "[V6]" or
 * "[V6]:PORT", numeric only, port 53 by default. Writes unbound's "ADDR@PORT"
 * form (canonical address, e.g. "192.0.2.1@53", "2001:db8::1@5353") into out,
 * which CONFIG_DNS_MAX octets always hold.
 * Returns 0, or -1 and a static message in *err_r. */
#define CONFIG_DNS_MAX 64
int config_parse_dns(const char *s, char *out, size_t outlen, const char **err_r);

/* An address block for `trusted`: IPv4 blocks are kept IPv4-mapped (::ffff:0:0/96
 * plus the prefix), so they also match IPv4 clients of an IPv6 listener. */
struct config_cidr {
	unsigned char addr[16];
	unsigned bits;            /* 0..128 */
};

/* "ADDR" (one host) or "ADDR/BITS", numeric IPv4 or IPv6 (no brackets), with no
 * bits set past the prefix. Returns 0, or -1 and a static message in *err_r. */
int config_parse_cidr(const char *s, struct config_cidr *cidr_r, const char **err_r);

/* True when sa (AF_INET or AF_INET6) is inside one of the n blocks. */
bool config_cidr_match(const struct config_cidr *list, size_t n, const struct sockaddr *sa);

/* RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens,
 * at most 63 octets each and 253 in all; no trailing dot. */
bool config_hostname_valid(const char *s);

/* The address as 16 octets, IPv4 mapped (::ffff:a.b.c.d): one key for both
 * families (CIDR matching, per-IP counts). */
void config_addr_key16(const struct sockaddr *sa, unsigned char out[16]);

#endif

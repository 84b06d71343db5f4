/* proxy_proto.h - the PROXY protocol header (HAProxy's v1 text and v2 binary forms)
 * that a trusted load balancer sends before SMTP: a pure parser; no I/O. */
#ifndef SLUICE_PROXY_PROTO_H
#define SLUICE_PROXY_PROTO_H

#include <stddef.h>
#include <sys/socket.h>

/* Which headers a listener accepts (`proxy_protocol`); the values are the index
 * of the word in the configuration. */
enum proxy_proto_mode { PROXY_PROTO_NO = 0, PROXY_PROTO_V1, PROXY_PROTO_V2, PROXY_PROTO_ANY };

enum proxy_proto_status {
	PROXY_PROTO_NEED_MORE,    /* a prefix of a header that may still be valid */
	PROXY_PROTO_INVALID,      /* not a valid header; r->reason says why */
	PROXY_PROTO_DONE,         /* a whole header of r->len octets */
};

enum proxy_proto_command {
	PROXY_CMD_LOCAL,          /* v2 LOCAL: the proxy's own connection (health check) */
	PROXY_CMD_PROXY,          /* relayed: the source is the real client, if family is set */
};

/* A v1 header is at most 107 octets (the spec's "worst case"); a v2 header is
 * taken up to 536 octets in all (the spec: fits in a minimal TCP segment), TLVs
 * included. No valid header of either version is longer than PROXY_PROTO_MAX. */
#define PROXY_PROTO_V1_MAX 107
#define PROXY_PROTO_V2_MAX 536
#define PROXY_PROTO_MAX PROXY_PROTO_V2_MAX

struct proxy_proto_result {
	size_t len;               /* DONE: octets of the header, to drain */
	int version;              /* 1 or 2, once known (0 before) */
	enum proxy_proto_command command;
	/* AF_INET or AF_INET6 with src and dst filled in (sockaddr_in/_in6, ports
	 * included); AF_UNSPEC for v1 UNKNOWN and v2 LOCAL: use the connection's
	 * own addresses. */
	int family;
	struct sockaddr_storage src, dst;
	const char *reason;       /* INVALID: a static phrase for the log */
};

/* Parse the first len octets received on a connection. Stateless, so resumable:
 * call again with every longer prefix until it answers DONE or INVALID. It
 * answers INVALID as soon as the prefix cannot begin a valid header, and never
 * NEED_MORE beyond PROXY_PROTO_MAX octets. mode PROXY_PROTO_ANY tells v1 from
 * v2 by the first octet; PROXY_PROTO_NO refuses everything. r is always set. */
enum proxy_proto_status proxy_proto_parse(enum proxy_proto_mode mode, const void *buf, size_t len,
                                          struct proxy_proto_result *r);

#endif

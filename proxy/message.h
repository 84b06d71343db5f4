/* message.h - one message's header fields as received and the edits filters make
 * to it (header, envelope, body), and the pull iterator that produces what goes
 * to the backend. Pure: no libevent, no logging (refusals return a static reason
 * the caller logs). All calls on the thread that owns the message.
 *
 * What goes to the backend, in order (message_out):
 *   1. fields added with message_header_add, first call first;
 *   2. the prefix (sluice's Received header) given to message_out_init;
 *   3. the received header fields, with inserts, changes and deletes applied;
 *   4. the rest of the received content (unchanged), or, after
 *      message_body_replace, the empty line and the replacement body.
 * With no edits this is exactly prefix + the spool's content, byte for byte. */
#ifndef SLUICE_MESSAGE_H
#define SLUICE_MESSAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct spool;
struct message;

#define MESSAGE_FIELDS_MAX 10000          /* received fields parsed; the rest passes as is */
#define MESSAGE_HEADER_PARSE_MAX (4u << 20) /* octets of header section parsed */
#define MESSAGE_EDITS_MAX 10000           /* header edits of each kind per message */
#define MESSAGE_LINE_MAX 998              /* RFC 5322 2.1.1, without CRLF */
#define MESSAGE_ADDR_MAX 256              /* envelope address, without <> */
#define MESSAGE_PARAMS_MAX 512            /* ESMTP parameters of an envelope edit */

/* spool_dir, mem_limit: where a replacement body goes (see spool_new); copied. */
struct message *message_new(const char *spool_dir, size_t mem_limit);
void message_free(struct message **m);
/* Forget the fields, the edits and the spool (next transaction). */
void message_reset(struct message *m);

/*
 * Parse the header section of the content in sp (borrowed: it must stay
 * unchanged until message_reset/free). header_size: smtp_data's header_size,
 * the octets of the header section including the empty line, 0 when no empty
 * line was seen. Resets the message first.
 *
 * - The content's first line is not a header field (no "name:" at its start, or
 *   an empty line): zero fields, everything is body (a body-only message).
 * - header_size > 0: every line before the empty line is a field; a line with no
 *   colon becomes an opaque field (name "", value the line) so it is kept.
 * - header_size == 0: fields are read while lines are fields or their
 *   continuations; the first other line (or a last line without CRLF) starts
 *   the body.
 * - Past MESSAGE_FIELDS_MAX fields or MESSAGE_HEADER_PARSE_MAX octets, the rest
 *   of the header section is not parsed; it passes through unchanged.
 * Returns 0, or -1 when the spool could not be read (errno set; zero fields).
 */
int message_parse(struct message *m, struct spool *sp, uint64_t header_size);

/* ---- reads: the header as received (edits do not show). Strings are valid
 * until message_reset/free. A value is everything after the colon as sent
 * (leading space, folding CRLFs kept), without the final CRLF; NUL octets in it
 * end the C string early. */
size_t message_nfields(const struct message *m);
const char *message_field_name(const struct message *m, size_t i);   /* "" opaque, NULL out of range */
const char *message_field_value(const struct message *m, size_t i);  /* NULL out of range */
/* Fields called name (ASCII case-insensitive). */
size_t message_header_count(const struct message *m, const char *name);
/* The index-th (1-based) field called name, or NULL. */
const char *message_header_get(const struct message *m, const char *name, size_t index);

/* Forget the received fields for which match(name, value, arg) answers 1: no
 * read sees them and they are not sent (as if they never arrived). For fields
 * nobody may see, such as a forged Authentication-Results (RFC 8601 section 5);
 * call right after message_parse, before any edit (positions and indexes count
 * the fields that are left). Returns how many were removed. */
size_t message_fields_remove(struct message *m, int (*match)(const char *name, const char *value, void *arg),
                             void *arg);

/* ---- header edits. Name: printable ASCII (33..126) without ':'; value: no CR,
 * LF or NUL, except "\n\t" to fold (becomes CRLF TAB; a folded line must hold
 * more than white space); each line of the result at most MESSAGE_LINE_MAX
 * octets. Written as "name: value", or "name:value" when the value starts with
 * space or tab (so a value read with message_header_get and written back as is
 * reproduces the line). All return 0, or -1 with *why_r set to a static reason
 * (why_r may be NULL) and nothing changed. */
/* At the top, above the prefix, in call order. */
int message_header_add(struct message *m, const char *name, const char *value, const char **why_r);
/* Before the position-th received field (0 = top of the received header; past
 * the last = after it). Several at one position stay in call order. */
int message_header_insert(struct message *m, size_t position, const char *name, const char *value,
                          const char **why_r);
/* The index-th (1-based) received field called name: new value, or NULL to
 * delete. Indexes count received fields only, whatever was edited before; the
 * last edit of a field wins; the name keeps its received spelling. A missing
 * field is -1. */
int message_header_change(struct message *m, const char *name, size_t index, const char *value,
                          const char **why_r);

/* ---- body replacement: the first call drops the received body, calls append.
 * Bare CR or LF become CRLF (also across calls). -1 when the spool write failed. */
int message_body_replace(struct message *m, const void *data, size_t len, const char **why_r);
int message_body_replaced(const struct message *m);

/* ---- envelope edits. Addresses without <>: no CR, LF, NUL, space, '<' or '>',
 * at most MESSAGE_ADDR_MAX octets ("" only for the sender: the null path).
 * params: ESMTP parameters ("SIZE=10 BODY=8BITMIME") or NULL; no CR, LF or NUL.
 * Recipients compare ASCII case-insensitively. Adds and deletes apply in call
 * order to the original list (see message_rcpt_final). */
int message_sender_change(struct message *m, const char *sender, const char *params,
                          const char **why_r);
int message_rcpt_add(struct message *m, const char *rcpt, const char *params, const char **why_r);
int message_rcpt_delete(struct message *m, const char *rcpt, const char **why_r);
int message_envelope_edited(const struct message *m);
/* The new sender (and its params, NULL for none), or NULL when unchanged. */
const char *message_new_sender(const struct message *m, const char **params_r);

struct message_rcpt {
	const char *addr;
	const char *params;       /* added: its params or NULL; original: NULL */
	size_t orig;              /* index in the original list, or SIZE_MAX when added */
};
/* The final recipients: orig (the accepted ones, in order) with the adds and
 * deletes applied in call order, no duplicates, originals first. Returns an
 * array the caller frees (strings point into orig and m), count in *n_r. */
struct message_rcpt *message_rcpt_final(const struct message *m, const char *const *orig, size_t norig,
                                        size_t *n_r);

/* ---- output: a pull iterator over what goes to the backend. */
struct message_out {
	struct message *m;
	int stage;
	size_t i, j;              /* position within the stage */
	uint64_t off;             /* octets of the current piece already produced */
	uint64_t total;           /* octets produced so far */
};

/* prefix (CRLF-terminated lines, may be empty) is copied into m. The message
 * must stay unchanged while the output is read. */
void message_out_init(struct message_out *o, struct message *m, const char *prefix, size_t prefix_len);
/* The next octets: either a pointer into the message (no copy) or into buf (up
 * to len octets, len > 0) in *data_r. Returns the count, 0 at the end, -1 when
 * the spool could not be read (errno set). */
ssize_t message_out_next(struct message_out *o, const char **data_r, char *buf, size_t len);
/* message_out_next with the shape of relay_source (arg: the struct message_out). */
ssize_t message_out_source(void *arg, const char **data_r, char *buf, size_t len);
/* The same, always copied into buf. */
ssize_t message_out_read(struct message_out *o, char *buf, size_t len);

#endif

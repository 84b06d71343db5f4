/* content.h - the end of a message: judge what was received, run the header,
 * eoh, body and eom filter phases, apply the filters' edits, and hand the message
 * to the relay. */
#ifndef SLUICE_CONTENT_H
#define SLUICE_CONTENT_H

struct session;

/* The content is complete (CRLF.CRLF or BDAT LAST). Replies to the client when
 * done and calls session_done. */
void content_end(struct session *s);

#endif

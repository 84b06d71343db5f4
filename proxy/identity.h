/* identity.h - a trusted client's XCLIENT and XFORWARD commands. */
#ifndef SLUICE_IDENTITY_H
#define SLUICE_IDENTITY_H

struct session;

/* The handler of both verbs (s->cmd holds the command). Untrusted clients get
 * 550 5.7.0; a trusted one's XCLIENT makes a new session of the named client
 * (connect filters again, then a 220 greeting), its XFORWARD changes the
 * identity for what follows and answers 250. */
void identity_command(struct session *s);

#endif

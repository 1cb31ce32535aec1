/*
 * ack.h - delivered markers from the clients' {"type":"ack"}, written in
 * batches (ack.c: why a batch may be sent twice).
 *
 * State: the acks not yet written and the batch in flight, one per
 * process, until ack_free(); at most ACK_MAX waiting (more are dropped and
 * logged: the database is behind).
 */
#ifndef WSD_ACK_H
#define WSD_ACK_H

#include <stdint.h>

/* user_id has the messages of chat_id up to message_id (checked: a
 * member). Written within ack_flush_ms. */
void ack_add(int64_t user_id, int64_t chat_id, int64_t message_id);
/* Writes what is waiting now (at shutdown). */
void ack_flush_now(void);
/* The timer off and the memory freed: before lws_context_destroy(). */
void ack_free(void);

#endif

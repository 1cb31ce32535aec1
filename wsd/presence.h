/*
 * presence.h - who is online, written to user_presence; and this process
 * as an instance that others can see die.
 *
 * user_presence has a row per (user, wsd process) while the user has
 * connections there; the SQL functions of schema/functions/wsd.sql decide when a
 * user goes online or offline across all processes and NOTIFY msgr_wsd
 * (bus.c fans the change out). Changes are written in batches, one batch
 * in flight at a time, in order for each user. The instance registers at
 * start, beats its heartbeat, and deregisters (all its users offline) when
 * it stops; a process silent for dead_secs is taken for dead by the others.
 *
 * State: the queue of changes not yet written and the heartbeat timer, one
 * per process, from presence_start() to presence_free().
 */
#ifndef WSD_PRESENCE_H
#define WSD_PRESENCE_H

#include <stdbool.h>

struct user;

/* u came (up) or went: queued and written soon. An "up" sets u->announced
 * once written (or given up on), then user_check_ready(). */
void presence_change(struct user *u, bool up);
/* Registers the instance and starts the heartbeat. */
void presence_start(void);
/* Deregisters the instance (every user of this process offline; the
 * changes not yet written are dropped); done is called when answered. */
void presence_stop(void (*done)(void));
/* The heartbeat off: before lws_context_destroy(). */
void presence_timers_off(void);
void presence_free(void);

#endif

/*
 * bus.h - msgr_wsd, the channel between wsd processes: typing and presence
 * changes, never written to a table.
 *
 * Typing from a local session goes to the local members at once and to the
 * other processes with NOTIFY msgr_wsd (a process skips its own). Presence
 * changes are NOTIFYed by the SQL functions of schema/functions/wsd.sql, to every
 * process, this one too. Payloads (JSON objects written by wsd and by
 * those functions):
 *
 *	{"t":"typing","w":WSD_ID,"u":USER,"c":CHAT}
 *	{"t":"presence","u":USER,"on":BOOL,"ts":TIME,"chats":[CHAT,...]}
 *
 * "chats" is null when the user's chats did not fit the notification;
 * then they are read from chat_members.
 *
 * State: none of its own beyond lookups in flight (each freed with its
 * answer).
 */
#ifndef WSD_BUS_H
#define WSD_BUS_H

#include <stdint.h>

struct user;

/* u types in chat_id (checked: u is a member). Ephemeral: the NOTIFY is
 * not sent behind a stalled database. */
void bus_typing(struct user *u, int64_t chat_id);
/* A notification on msgr_wsd (the feed's connection LISTENs). */
void bus_receive(const char *payload);

#endif

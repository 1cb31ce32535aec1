/*
 * lifecycle.h - signals, the once-a-second tick, and the stop sequence.
 *
 * SIGTERM or SIGINT: close every connection with 1001 (in slices, at most
 * 4 s), take this process's users offline (at most 4 s more: stack.sh waits
 * 10 s in all), exit. SIGHUP is logged and otherwise ignored (there is
 * nothing to reload; a restart loses nothing: clients resume with since).
 * Signal handlers only set flags; the tick acts on them in the loop.
 *
 * State: the phase of the process (running, draining, deregistering,
 * done, torn down) and the tick's timer, from lifecycle_signals() to the
 * return of lifecycle_run().
 */
#ifndef WSD_LIFECYCLE_H
#define WSD_LIFECYCLE_H

/* Installs the signal handlers (SIGPIPE ignored). */
void lifecycle_signals(void);
/* A signal arrived (from a handler, or from lws's signal callback). */
void lifecycle_signal(int sig);
/* Runs the loop until the stop sequence is done; on return the database
 * connections are shut down and every timer is off, and the context may
 * be destroyed. */
void lifecycle_run(void);

#endif

#include "server.h"

#include <errno.h>
#include <fcgiapp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "token.h"

#define SRV_MAX_WORKERS 256
/* The first periodic run comes this soon after start: a restart should not
 * postpone a cleanup by a whole period. */
#define SRV_PERIODIC_FIRST_SECS 5
/* The first key of the periodic jobs' advisory locks (the second is the
 * program's name hashed), apart from every other advisory lock. */
#define SRV_PERIODIC_LOCK_CLASS "1919"

static volatile sig_atomic_t stopping;
static volatile sig_atomic_t in_request;
static volatile sig_atomic_t periodic_due;
/* The master's listening sockets (FastCGI, wait pool, companion): each
 * child closes those it does not accept on. */
static int listeners[3] = {-1, -1, -1};

/* srv_run_dir(), from config_run_dir(). */
static char run_dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

const char *srv_run_dir(void)
{
	return run_dir;
}

static void close_listeners_except(int keep)
{
	for (size_t i = 0; i < sizeof listeners / sizeof listeners[0]; i++)
		if (listeners[i] >= 0 && listeners[i] != keep)
			close(listeners[i]);
}

/* The companion's signal mask while it waits: SIGTERM let through. */
static sigset_t companion_wait_mask;

static void worker_on_stop(int sig)
{
	(void)sig;
	/* Between requests a worker can go at once; during one it finishes the
	 * answer first (the accept loop checks the flag). */
	if (!in_request)
		_exit(0);
	stopping = 1;
}

static void master_on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static void master_on_child(int sig)
{
	(void)sig;
}

static void master_on_alarm(int sig)
{
	(void)sig;
	periodic_due = 1;
}

/*
 * nginx asks to keep a connection (fastcgi_keep_conn) only where it keeps
 * them to an event loop: the messages companion's socket, which workers
 * serve in its place when MSGR_SEND_BATCH=0. Closing it after every answer
 * made nginx send the next request on a connection the worker had just
 * closed (it had cached it before it saw the close): a 502 for a send. So
 * the worker keeps it, but only while it is busy: nginx keeps dozens per
 * upstream, and an idle one would pin the worker. Before waiting on a kept
 * connection, it is dropped as soon as another connection waits on the
 * socket, or after KEPT_IDLE_MS without a request (nginx then sees it
 * close while idle, and forgets it).
 */
#define KEPT_IDLE_MS 1000

static void drop_kept_connection_when_idle(FCGX_Request *r, int listen_fd)
{
	if (r->ipcFd < 0)
		return;
	struct pollfd fds[2] = {{.fd = r->ipcFd, .events = POLLIN},
				{.fd = listen_fd, .events = POLLIN}};
	int n;
	do
		n = poll(fds, 2, KEPT_IDLE_MS);
	while (n < 0 && errno == EINTR && !stopping);
	/* A request (or nginx's close, which libfcgi then reads) is there. */
	if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	close(r->ipcFd);
	r->ipcFd = -1;
}

static void worker_loop(int listen_fd, const struct srv_app *app)
{
	FCGX_Request r;
	if (FCGX_InitRequest(&r, listen_fd, 0) != 0) {
		log_error("could not initialise the FastCGI request");
		exit(1);
	}
	struct arena *arena = arena_new();
	struct http_req req = {0};
	while (!stopping) {
		drop_kept_connection_when_idle(&r, listen_fd);
		if (stopping)
			break;
		if (FCGX_Accept_r(&r) < 0) {
			if (errno == EINTR && !stopping)
				continue;
			break;
		}
		in_request = 1;
		struct timespec start;
		clock_gettime(CLOCK_MONOTONIC, &start);
		http_req_begin(&req, arena, r.envp);
		req.fcgx = &r;
		const struct http_route *route = http_dispatch(&req, app->routes, app->nroutes);
		if (!req.status) {
			log_error("%s %s: the handler gave no answer", req.method, req.path);
			http_problem(&req, 500, "internal_error",
				     "the server failed to answer this request");
		}
		double ms = log_ms_since(&start);
		log_request(req.method, req.path, req.status, ms, req.user_id, req.request_id);
		metrics_request(route ? (size_t)(route - app->routes) : app->nroutes, req.status,
				ms / 1e3);
		/* libfcgi closes by shutting down its side and waiting (up to
		 * 2 s) for nginx to close first, so that unread request bytes
		 * cannot reset the answer. Once the request has been read to its
		 * end there are none: close at once (detached), which spares
		 * every request a wake-up and the worker the wait. */
		if (FCGX_GetChar(r.in) == EOF && FCGX_HasSeenEOF(r.in))
			r.detached = 1;
		/* A connection nginx asked to keep stays open (see
		 * drop_kept_connection_when_idle). */
		FCGX_Finish_r(&r);
		arena_reset(arena);
		in_request = 0;
	}
	buf_free(&req.extra_headers);
	arena_free(arena);
	db_disconnect();
	exit(0);
}

/* In a child just forked by master: a master killed outright (SIGKILL, the
 * OOM killer) cannot stop its children, and orphans would go on serving
 * and holding their sockets and database connections beside the master
 * started in its place. So the child gets SIGTERM, its usual stop, when
 * the master dies, and ends at once if that happened before it asked. */
static void end_with_master(pid_t master)
{
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != master)
		_exit(1);
}

static pid_t start_worker(int listen_fd, const struct srv_app *app)
{
	pid_t master = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	end_with_master(master);
	close_listeners_except(listen_fd);
	struct sigaction sa = {.sa_handler = worker_on_stop};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGCHLD, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* A worker without a database still answers (503) and reconnects on
	 * the next request. */
	if (db_connect() != MSGR_OK)
		log_error("starting without a database connection");
	if (app->init_worker && app->init_worker() != 0)
		exit(1);
	worker_loop(listen_fd, app);
	return 0;
}

/* Forks a child beside the workers. In the child: 0, with the listeners
 * but keep_fd closed. In the master: its pid, or -1 (logged). */
static pid_t fork_helper(const char *what, int keep_fd)
{
	pid_t master = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		log_error("could not start %s: %s", what, strerror(errno));
	} else if (pid == 0) {
		end_with_master(master);
		close_listeners_except(keep_fd);
	}
	return pid;
}

/* Every app host runs the same periodic jobs on its own clock: a run takes
 * the job's advisory lock for its session (released when the child's
 * connection ends, however it ends), and a host that finds it taken skips
 * this run, so the job's work is done once however many hosts there are.
 * Skipping, not waiting: the run that holds the lock does what this one
 * would have. (SRV_PERIODIC_LOCK_CLASS and the name are the key: the
 * tests take the same lock, tests/integration/test_two_hosts.py.) */
bool srv_periodic_lock(const char *name)
{
	DB_STMT(periodic_try_lock, 1,
		"SELECT pg_try_advisory_lock(" SRV_PERIODIC_LOCK_CLASS ", hashtext($1))");
	const char *params[] = {name};
	PGresult *res = db_exec(&periodic_try_lock, params);
	bool got = db_ok(res) && PQgetvalue(res, 0, 0)[0] == 't';
	if (!db_ok(res))
		log_error("periodic job skipped: could not take its lock: %s",
			  res ? PQresultErrorMessage(res) : "no database connection");
	else if (!got)
		log_info("periodic job skipped: another process, here or on another host, is running it");
	PQclear(res);
	return got;
}

/* Forks the child that runs app->periodic once; returns its pid, or 0. */
static pid_t start_periodic(const struct srv_app *app)
{
	pid_t pid = fork_helper("the periodic job", -1);
	if (pid != 0)
		return pid < 0 ? 0 : pid;
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (db_connect() != MSGR_OK) {
		log_error("periodic job skipped: no database connection");
		_exit(1);
	}
	if (!srv_periodic_lock(app->name)) {
		db_disconnect();
		_exit(0);
	}
	app->periodic();
	db_disconnect();
	_exit(0);
}

static void companion_on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

bool srv_stopping(void)
{
	return stopping;
}

int srv_companion_wait(int epoll_fd, struct epoll_event *events, int max_events)
{
	if (stopping) {
		errno = EINTR;
		return -1;
	}
	return epoll_pwait(epoll_fd, events, max_events, -1, &companion_wait_mask);
}

/* Forks the companion (srv_app.companion); returns its pid, or 0. */
static pid_t start_companion(int companion_fd, const struct srv_app *app)
{
	pid_t pid = fork_helper("the companion", companion_fd);
	if (pid != 0)
		return pid < 0 ? 0 : pid;
	signal(SIGCHLD, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	struct sigaction sa = {.sa_handler = companion_on_stop};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* SIGTERM stays blocked (as the master left it) except inside
	 * srv_companion_wait(), so a stop asked for during a batch is seen
	 * when the batch is done, and one asked for before a wait ends it. */
	sigset_t blocked;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
	sigemptyset(&companion_wait_mask);
	/* No worker's connection: the companion's database work goes on the
	 * links of its loop (pglink.h), which never wait for it. */
	app->companion(companion_fd);
	_exit(0);
}

static void stop_workers(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (int waited = 0; waited < 100; waited++) {
		int alive = 0;
		for (int i = 0; i < n; i++) {
			if (pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) == 0)
				alive++;
			else
				pids[i] = 0;
		}
		if (!alive)
			return;
		usleep(100 * 1000);
	}
	for (int i = 0; i < n; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
}

static int open_listener(const char *path)
{
	unlink(path);
	mode_t old = umask(0117); /* the socket is rw for owner and group */
	int fd = FCGX_OpenSocket(path, 1024);
	umask(old);
	if (fd < 0)
		log_error("could not listen on \"%s\": %s", path, strerror(errno));
	return fd;
}

/* Writes path + suffix into out (a socket path's size); false (logged)
 * when it is too long. */
static bool socket_path_with(char out[sizeof(((struct sockaddr_un *)0)->sun_path)],
			     const char *path, const char *suffix)
{
	int n = snprintf(out, sizeof(((struct sockaddr_un *)0)->sun_path), "%s%s", path, suffix);
	if (n < 0 || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		log_error("the path \"%s%s\" is too long for a socket", path, suffix);
		return false;
	}
	return true;
}

static const char *socket_path_from_env(const struct srv_app *app)
{
	char name[64];
	snprintf(name, sizeof name, "MSGR_%s_SOCKET", app->name);
	for (char *p = name; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return config_str(name, NULL);
}

/* --routes: the route table, a line per route, "METHOD PATTERN" and
 * " loop" when the event loop serves it too (what nginx's map of the loop
 * socket is checked against). */
static int print_routes(const struct srv_app *app)
{
	for (size_t i = 0; i < app->nroutes; i++)
		printf("%s %s%s\n", app->routes[i].method, app->routes[i].pattern,
		       app->routes[i].loop ? " loop" : "");
	return fflush(stdout) == 0 ? 0 : 1;
}

int srv_main(int argc, char **argv, const struct srv_app *app)
{
	if (argc == 2 && !strcmp(argv[1], "--routes"))
		return print_routes(app);
	log_init(app->name);
	const char *path = socket_path_from_env(app);
	long workers = config_int("MSGR_WORKERS", 4, 1, SRV_MAX_WORKERS);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
			workers = strtol(argv[++i], NULL, 10);
			if (workers < 1 || workers > SRV_MAX_WORKERS) {
				log_error("--workers takes 1 to %d", SRV_MAX_WORKERS);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: %s --socket PATH [--workers N] | --routes\n",
				argv[0]);
			return 2;
		}
	}
	if (!path) {
		log_error("no socket: pass --socket PATH");
		return 2;
	}
	if (token_init_from_config() != MSGR_OK)
		return 78;
	if (FCGX_Init() != 0) {
		log_error("could not initialise libfcgi");
		return 1;
	}
	int listen_fd = open_listener(path);
	if (listen_fd < 0)
		return 1;
	/* Before any fork: the whole family shares the one mapping. */
	if (!config_run_dir(path, run_dir, sizeof run_dir) ||
	    metrics_open(run_dir, app->name, app->routes, app->nroutes) != MSGR_OK)
		log_error("going on without metrics");

	struct sigaction stop = {.sa_handler = master_on_stop};
	sigaction(SIGTERM, &stop, NULL);
	sigaction(SIGINT, &stop, NULL);
	struct sigaction child = {.sa_handler = master_on_child};
	sigaction(SIGCHLD, &child, NULL);
	struct sigaction alarm_sa = {.sa_handler = master_on_alarm};
	sigaction(SIGALRM, &alarm_sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Signals are taken only inside sigsuspend(), so none is lost between
	 * checking the flag and sleeping. */
	sigset_t blocked, waiting;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGCHLD);
	sigaddset(&blocked, SIGALRM);
	sigprocmask(SIG_BLOCK, &blocked, &waiting);

	listeners[0] = listen_fd;
	/* The wait pool's workers accept on a socket of their own. */
	int wait_fd = -1;
	char wait_path[sizeof(((struct sockaddr_un *)0)->sun_path)] = "";
	long nwait = app->wait_pool.suffix ? app->wait_pool.workers : 0;
	if (nwait > SRV_MAX_WORKERS - workers)
		nwait = SRV_MAX_WORKERS - workers;
	if (nwait > 0) {
		if (!socket_path_with(wait_path, path, app->wait_pool.suffix) ||
		    (wait_fd = open_listener(wait_path)) < 0)
			return 1;
		listeners[1] = wait_fd;
	}
	int companion_fd = -1;
	char companion_path[sizeof wait_path] = "";
	if (app->companion) {
		if (!socket_path_with(companion_path, path, app->companion_suffix) ||
		    (companion_fd = open_listener(companion_path)) < 0)
			return 1;
		listeners[2] = companion_fd;
	}
	pid_t companion_pid = companion_fd >= 0 ? start_companion(companion_fd, app) : 0;
	long total = workers + (nwait > 0 ? nwait : 0);
	pid_t pids[SRV_MAX_WORKERS] = {0};
	int accept_fds[SRV_MAX_WORKERS];
	for (int i = 0; i < total; i++) {
		accept_fds[i] = i < workers ? listen_fd : wait_fd;
		pids[i] = start_worker(accept_fds[i], app);
	}
	if (nwait > 0)
		log_info("listening on %s with %ld workers, and on %s with %ld", path, workers,
			 wait_path, nwait);
	else if (companion_fd >= 0)
		log_info("listening on %s with %ld workers, and on %s with the companion", path,
			 workers, companion_path);
	else
		log_info("listening on %s with %ld workers", path, workers);
	pid_t periodic_pid = 0;
	if (app->periodic && app->periodic_secs) {
		struct itimerval every = {
			.it_interval = {.tv_sec = (time_t)app->periodic_secs},
			.it_value = {.tv_sec = SRV_PERIODIC_FIRST_SECS},
		};
		setitimer(ITIMER_REAL, &every, NULL);
	}

	while (!stopping) {
		sigsuspend(&waiting);
		if (periodic_due && !stopping) {
			periodic_due = 0;
			if (!periodic_pid)
				periodic_pid = start_periodic(app);
		}
		pid_t dead;
		int status;
		while ((dead = waitpid(-1, &status, WNOHANG)) > 0) {
			if (dead == periodic_pid) {
				periodic_pid = 0;
				continue;
			}
			if (dead == companion_pid) {
				companion_pid = 0;
				if (stopping)
					continue;
				log_error("the companion ended (status %d); starting another", status);
				sleep(1);
				companion_pid = start_companion(companion_fd, app);
				continue;
			}
			for (int i = 0; i < total; i++) {
				if (pids[i] != dead)
					continue;
				pids[i] = 0;
				if (stopping)
					break;
				log_error("worker %d ended (status %d); starting another", (int)dead,
					  status);
				/* A worker that dies at once would otherwise spin. */
				sleep(1);
				pids[i] = start_worker(accept_fds[i], app);
			}
		}
	}
	log_info("stopping");
	if (periodic_pid) {
		kill(periodic_pid, SIGTERM);
		waitpid(periodic_pid, NULL, 0);
	}
	stop_workers(pids, (int)total);
	/* After the workers: those finishing a request may still need it. */
	if (companion_pid)
		stop_workers(&companion_pid, 1);
	if (companion_fd >= 0)
		unlink(companion_path);
	if (wait_fd >= 0)
		unlink(wait_path);
	unlink(path);
	metrics_remove();
	return 0;
}

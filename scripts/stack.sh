#!/usr/bin/env bash
# stack.sh - the local messenger stack: PostgreSQL, the FastCGI programs, wsd,
# the mailer (when MSGR_SMTP_URL is set) and nginx, everything under one
# state directory.
#
#   scripts/stack.sh init | start | start-db | stop | run | status | restart-db | restart NAME
#   scripts/stack.sh msgrctl ARGS...   (msgrctl/main.c, against this stack's database)
#
# Each program (the FastCGI masters and wsd) runs under a supervisor, this
# script in its own session (`stack.sh supervise NAME VAR`, pid file
# $VAR/run/NAME.supervisor.pid): a program that dies other than by a clean
# exit is started again after 0.5 s, then 1, 2, ... up to 30 s while it keeps
# dying (back to 0.5 s once a run lasted a minute), each restart logged to
# $VAR/log/supervise.log and the program's own log. stop and restart NAME
# stop the supervisor before the program: a deliberate stop is no crash.
#
# Environment:
#   VAR           the state directory (default: the repo's var/): pg/ run/ log/
#                 files/ nginx/ tmp/ and the server secret
#   PORT          nginx's port (default 8080); LISTEN_ADDR its address (127.0.0.1)
#   BIN           where the programs are (default: the repo's build/bin)
#   WWW           the web app (default: the repo's www/)
#   MSGR_WORKERS  workers per FastCGI program (default 4)
#   NGINX_GROUP   the group of the sockets and stored files, so that an nginx
#                 running as another user serves the stack (README "Behind
#                 your own nginx"); default: the group of the `user` in
#                 /etc/nginx/nginx.conf, else www-data, else the run user's
#                 (without root: only a group the caller is a member of)
#   PG_FAST=1     no fsync (tests only: a crash loses the database)
#   MSGR_*        passed on to every program (limits, lifetimes, ...)
#   MSGR_SMTP_URL where the mailer sends the mail outbox (README "Mail");
#                 unset: no mailer runs, and mail waits in the outbox
#   SHARED_VAR    the state directory of another stack whose database, server
#                 secret and files this one uses: an app host beside it
#                 (docs/SCALING.md). Such a stack runs no PostgreSQL and no
#                 migrations of its own (the other one's start or start-db
#                 does both) and keeps only run/ log/ nginx/ tmp/ in VAR.
#
# start-db starts only what app hosts share: PostgreSQL (migrated), the
# secret and the files directory; start with SHARED_VAR set adds hosts.
#
# As root, everything runs as the system user "messenger" (created once);
# otherwise as the calling user. Processes are found again through the pid
# files in $VAR/run and the state directory in their command line, so stop
# only ever touches this stack's processes, and several stacks with different
# VAR and PORT run side by side.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

ME=stack
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

VAR=$(abs "${VAR:-$top/var}")
SHARED_VAR=${SHARED_VAR:+$(abs "$SHARED_VAR")}
# What every app host of one deployment shares (the database's socket
# directory, the secret, the files) lives in the state directory of the
# stack that owns the database.
DB_VAR=${SHARED_VAR:-$VAR}
FILES_DIR=$DB_VAR/files
SECRET_FILE=$DB_VAR/secret
BIN=$(abs "${BIN:-$top/build/bin}")
WWW=$(abs "${WWW:-$top/www}")
PORT=${PORT:-8080}
LISTEN_ADDR=${LISTEN_ADDR:-127.0.0.1}
MSGR_WORKERS=${MSGR_WORKERS:-4}
PG_FAST=${PG_FAST:-0}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
FCGI_PROGRAMS=(auth chats messages files)
PROGRAMS=("${FCGI_PROGRAMS[@]}" wsd)
# The mailer only with somewhere to send to: without it mail stays queued in
# the database (mail_outbox) until one runs.
[[ -z ${MSGR_SMTP_URL:-} ]] || PROGRAMS+=(mailer)
START_TIMEOUT=${START_TIMEOUT:-30}
# The supervisors' delays before starting a program again (milliseconds),
# and how long a run must last for the delay to start over (seconds).
RESTART_MIN_MS=${RESTART_MIN_MS:-500}
RESTART_MAX_MS=${RESTART_MAX_MS:-30000}
RESTART_RESET_S=${RESTART_RESET_S:-60}
STOP_TIMEOUT=10

PG_SUPERUSER=$RUN_USER

case $LISTEN_ADDR in
0.0.0.0 | '*') health_host=127.0.0.1 ;;
:: | '[::]') health_host='[::1]' ;;
*) health_host=$LISTEN_ADDR ;;
esac
URL="http://$health_host:$PORT"



check_paths() {
	local p
	for p in "$VAR" "$DB_VAR" "$BIN" "$WWW"; do
		[[ $p =~ ^[A-Za-z0-9/._+-]+$ ]] ||
			die "'$p' has characters the configuration files cannot take; use a plain path"
	done
	# sockaddr_un holds 108 bytes: the longest socket is PostgreSQL's.
	((${#VAR} + 22 < 107)) || die "VAR '$VAR' is too long for unix socket paths (at most 84 characters)"
	if [[ -n $SHARED_VAR ]]; then
		[[ $SHARED_VAR != "$VAR" ]] || die "SHARED_VAR is this stack's own VAR: leave it unset"
		[[ -s $SHARED_VAR/secret && -d $SHARED_VAR/files ]] ||
			die "SHARED_VAR '$SHARED_VAR' is no started stack (no secret or files/): start it first (start-db)"
	fi
	[[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65536)) || die "PORT '$PORT' is not a port number"
	[[ $MSGR_WORKERS =~ ^[0-9]+$ ]] && ((MSGR_WORKERS > 0)) || die "MSGR_WORKERS '$MSGR_WORKERS' is not a positive number"
}

# ---- the run user and the state directory ----------------------------------------

# The group nginx's workers run as where it can be told: the `user`
# directive of the system's nginx ("user www-data;" or "user nginx web;"),
# else www-data; a group that exists, and without root one the caller may
# give files to (a member of). Else the run user's own group.
default_nginx_group() {
	local words g='' candidates=()
	words=$(sed -n 's/^[[:space:]]*user[[:space:]]\+\([^;#]*\);.*/\1/p' /etc/nginx/nginx.conf 2>/dev/null | head -n1) || true
	read -r -a words <<<"$words"
	if ((${#words[@]} >= 2)); then
		candidates+=("${words[1]}")
	elif ((${#words[@]} == 1)); then
		g=$(id -gn "${words[0]}" 2>/dev/null) && candidates+=("$g")
	fi
	candidates+=(www-data)
	for g in "${candidates[@]}"; do
		getent group "$g" >/dev/null || continue
		[[ $(id -u) == 0 ]] || id -Gn | tr ' ' '\n' | grep -qxF "$g" || continue
		printf '%s\n' "$g"
		return 0
	done
	id -gn "$RUN_USER"
}

# Sets NGINX_GROUP (checked), before anything is made.
resolve_nginx_group() {
	[[ -n ${NGINX_GROUP:-} ]] || NGINX_GROUP=$(default_nginx_group)
	[[ $NGINX_GROUP =~ ^[A-Za-z_][A-Za-z0-9_.-]*$ ]] || die "NGINX_GROUP '$NGINX_GROUP' is not a group name"
	getent group "$NGINX_GROUP" >/dev/null || die "NGINX_GROUP '$NGINX_GROUP': there is no such group"
	if [[ $(id -u) != 0 ]] && ! id -Gn | tr ' ' '\n' | grep -qxF "$NGINX_GROUP"; then
		die "NGINX_GROUP '$NGINX_GROUP': $(id -un) is not a member, so cannot give it files (run as root, or choose one of: $(id -Gn))"
	fi
}

# The sockets (run/) and stored files (files/) belong to NGINX_GROUP: both
# directories are setgid, so what the programs create there takes their
# group (the sockets are 0660, the files 0640) without the programs being
# members of it; the state directory lets that group through. Files from
# before (another group, a restore) change group here, at each start.
share_with_nginx() {
	chgrp "$NGINX_GROUP" "$VAR" "$VAR/run" "$VAR/files"
	chmod g+x,g-w "$VAR"
	chmod 2750 "$VAR/run" "$VAR/files"
	find "$VAR/files" -mindepth 1 ! -group "$NGINX_GROUP" -exec chgrp "$NGINX_GROUP" {} +
}

ensure_run_user() {
	[[ $(id -u) == 0 ]] || return 0
	local i
	for i in 1 2 3 4 5; do
		getent passwd messenger >/dev/null && return 0
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin messenger 2>/dev/null && {
			say "created the system user messenger"
			return 0
		}
		sleep 1 # another stack may be creating it right now
	done
	getent passwd messenger >/dev/null || die "could not create the system user messenger"
}

# Makes every parent of a path enterable by the run user (a mktemp directory
# or a checkout under /root is not).
ensure_traversable() {
	[[ $(id -u) == 0 ]] || return 0
	local d=$1 mode
	while [[ $d != / && -n $d ]]; do
		if [[ -d $d ]]; then
			mode=$(stat -c %A "$d")
			if [[ ${mode:9:1} != [xt] ]] && [[ $(stat -c %U "$d") != "$RUN_USER" ]]; then
				chmod o+x "$d"
				say "made $d enterable for $RUN_USER (chmod o+x)"
			fi
		fi
		d=$(dirname "$d")
	done
}

# Makes the program binaries and the web app readable by the run user.
ensure_readable() {
	[[ $(id -u) == 0 ]] || return 0
	local p
	for p in "$@"; do
		[[ -e $p ]] || continue
		ensure_traversable "$p"
		if [[ -n $(find "$p" ! -perm -o=r -print -quit 2>/dev/null) ]]; then
			chmod -R o+rX "$p"
			say "made $p readable for $RUN_USER (chmod -R o+rX)"
		fi
	done
}

write_secret() {
	local f=$VAR/secret
	if [[ ! -s $f ]]; then
		(
			umask 077
			od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$f.tmp"
			mv -f "$f.tmp" "$f"
		)
		say "created the server secret $f"
	fi
	chmod 0600 "$f"
	[[ $(id -u) != 0 ]] || chown "$RUN_USER:" "$f"
}

write_pg_conf() {
	local conf=$VAR/pg/postgresql.conf
	grep -q "^include_if_exists = 'messenger.conf'" "$conf" ||
		printf "\n# The stack's settings (scripts/stack.sh rewrites this file at each start).\ninclude_if_exists = 'messenger.conf'\n" >>"$conf"
	{
		echo "# Written by scripts/stack.sh at each start; changes here are lost."
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$VAR/run'"
		echo "unix_socket_permissions = 0700"
		echo "max_connections = 200"
		echo "shared_buffers = 256MB"
		echo "log_line_prefix = '%m [%p] %q%u@%d '"
		echo "log_timezone = 'UTC'"
		echo "timezone = 'UTC'"
		if [[ $PG_FAST == 1 ]]; then
			echo "# PG_FAST=1: for tests only; a crash may lose the database"
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
		fi
	} >"$VAR/pg/messenger.conf.tmp"
	mv -f "$VAR/pg/messenger.conf.tmp" "$VAR/pg/messenger.conf"
	[[ $(id -u) != 0 ]] || chown "$RUN_USER:" "$VAR/pg/messenger.conf"
}

init_fs() {
	check_paths
	ensure_run_user
	resolve_nginx_group
	mkdir -p "$VAR"/{run,log,files,nginx,tmp}
	if [[ $(id -u) == 0 ]]; then
		# A state directory made by another user (an earlier run without
		# root) changes hands once, completely.
		if [[ -d $VAR/pg && $(stat -c %U "$VAR/pg") != "$RUN_USER" ]]; then
			chown -R "$RUN_USER:" "$VAR"
		fi
		chown "$RUN_USER:" "$VAR" "$VAR"/{run,log,files,nginx,tmp}
		chown -R "$RUN_USER:" "$VAR/log"
		ensure_traversable "$VAR"
	fi
	share_with_nginx
	# An app host beside another stack: the database, the secret and the
	# files are that stack's.
	[[ -z $SHARED_VAR ]] || return 0
	write_secret
	if [[ ! -s $VAR/pg/PG_VERSION ]]; then
		say "creating the database cluster in $VAR/pg"
		if [[ -d $VAR/pg ]]; then
			# initdb takes an existing empty directory
			rmdir "$VAR/pg" || die "$VAR/pg exists, is not empty and is not a database cluster"
		fi
		mkdir -m 0700 "$VAR/pg"
		[[ $(id -u) != 0 ]] || chown "$RUN_USER:" "$VAR/pg"
		as_user "$PGBIN/initdb" -D "$VAR/pg" -U "$PG_SUPERUSER" --auth=trust \
			--encoding=UTF8 --locale=C.UTF-8 >"$VAR/log/initdb.log" 2>&1 ||
			{
				cat "$VAR/log/initdb.log" >&2
				rm -rf "$VAR/pg"
				die "initdb failed"
			}
	fi
	write_pg_conf
}

# ---- PostgreSQL -------------------------------------------------------------------

pg_ctl() { as_user "$PGBIN/pg_ctl" -D "$VAR/pg" "$@"; }

pg_running() { [[ -s $VAR/pg/PG_VERSION ]] && pg_ctl status >/dev/null 2>&1; }

pg_start() {
	if [[ -n $SHARED_VAR ]]; then
		as_user "$PGBIN/pg_ctl" -D "$SHARED_VAR/pg" status >/dev/null 2>&1 ||
			die "the database of SHARED_VAR '$SHARED_VAR' is not running: start it first (start-db)"
		return 0
	fi
	pg_running && return 0
	pg_ctl -l "$VAR/log/postgres.log" -w -t 60 start >"$VAR/log/pg_ctl.log" 2>&1 </dev/null || {
		tail -n 30 "$VAR/log/pg_ctl.log" "$VAR/log/postgres.log" >&2 || true
		die "PostgreSQL did not start"
	}
}

pg_stop() {
	pg_running || return 0
	pg_ctl -m fast -w -t 60 stop >"$VAR/log/pg_ctl.log" 2>&1 </dev/null || {
		tail -n 30 "$VAR/log/pg_ctl.log" >&2 || true
		pg_ctl -m immediate -w stop >/dev/null 2>&1 </dev/null || true
	}
}

migrate() {
	# The database's own stack migrates (an app host may be older or newer
	# code during a rolling upgrade; the schema moves once).
	[[ -z $SHARED_VAR ]] || return 0
	# shellcheck disable=SC2097,SC2098 # VAR is passed on as it is
	VAR=$VAR PGHOST=$VAR/run PGUSER=$PG_SUPERUSER PGDATABASE=messenger \
		"$top/scripts/migrate.sh" </dev/null || die "migrations failed"
}

# ---- processes by pid file --------------------------------------------------------

# The start time of a process (clock ticks after boot), which stays the same
# across exec and tells a process from a later one with the same pid.
proc_start() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) } # after the command name, which may hold anything
	read -r -a fields <<<"$stat"
	printf '%s\n' "${fields[19]}"
}

# True when the process in pid file is alive and ours: its start time is the
# one recorded next to the pid file (pid.start), or its command line contains
# marker. A pid file left by a crash may name an unrelated process by now.
# A zombie is not alive: it has ended, and whoever reaps orphans (PID 1 in a
# container or sandbox) may take its time.
is_ours() {
	local pidf=$1 marker=$2 pid cmd start
	pid=$(pidfile_pid "$pidf")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	is_zombie "$pid" && return 1
	start=$(proc_start "$pid") || return 1
	[[ -s $pidf.start && $(cat "$pidf.start") == "$start" ]] && return 0
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmd == *"$marker"* ]]
}

is_zombie() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} == Z ]]
}

pidfile_pid() { head -n1 "$1" 2>/dev/null || true; }

# Records the start time of the process in a pid file, for is_ours.
remember_start() {
	local pid
	pid=$(pidfile_pid "$1")
	[[ $pid =~ ^[0-9]+$ ]] && proc_start "$pid" >"$1.start" 2>/dev/null || rm -f "$1.start"
}

# True while a process of the session that pid leads is alive. Zombies do
# not count: an init that reaps slowly must not make stop wait for them.
session_alive() {
	ps -o stat= -s "$1" 2>/dev/null | grep -qv '^Z'
}

# Stops the process in a pid file and the rest of its session (its workers;
# the programs and nginx each lead their own): SIGTERM, up to STOP_TIMEOUT
# seconds, then SIGKILL to the process group.
stop_pidfile() {
	local name=$1 pidf=$2 marker=$3 pid i
	pid=$(pidfile_pid "$pidf")
	if is_ours "$pidf" "$marker"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < STOP_TIMEOUT * 20; i++)); do
			session_alive "$pid" || break
			sleep 0.05
		done
		if session_alive "$pid"; then
			say "$name did not stop in ${STOP_TIMEOUT}s: killing it"
			kill -KILL -- "-$pid" 2>/dev/null || true
			kill -KILL "$pid" 2>/dev/null || true
			for ((i = 0; i < 100; i++)); do
				session_alive "$pid" || break
				sleep 0.05
			done
		fi
		say "stopped $name"
	fi
	rm -f "$pidf" "$pidf.start"
}

# ---- the programs -----------------------------------------------------------------

# The environment of every program: the stack's settings, then the caller's
# MSGR_* (so tests can change limits), then what must match this stack.
program_env() {
	local name origins="http://localhost:$PORT http://127.0.0.1:$PORT"
	# Served on another address (an app host on 127.0.0.2): its own origin too.
	[[ $health_host == 127.0.0.1 ]] || origins+=" $URL"
	PROGRAM_ENV=(
		PATH=/usr/local/bin:/usr/bin:/bin
		HOME="$VAR"
		LANG=C.UTF-8
		MSGR_WORKERS="$MSGR_WORKERS"
		MSGR_PUBLIC_URL="$URL"
		MSGR_ALLOWED_ORIGINS="$origins"
	)
	while read -r name; do
		[[ $name == MSGR_* ]] && PROGRAM_ENV+=("$name=${!name}")
	done < <(compgen -e)
	PROGRAM_ENV+=(
		MSGR_DATABASE_URL="host=$DB_VAR/run dbname=messenger user=msgr_app"
		MSGR_SECRET_FILE="$SECRET_FILE"
		MSGR_STORAGE_DIR="$FILES_DIR"
		MSGR_RUN_DIR="$VAR/run"
		ASAN_OPTIONS="log_path=$VAR/log/asan:detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
		UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$VAR/log/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
	)
}

program_running() { is_ours "$VAR/run/$1.pid" "$VAR/run/$1.sock"; }

declare -A LAUNCHED=() # name -> pid of the supervisors this invocation started

# Starts one program in its own session (so that a Ctrl-C meant for `make
# run` does not reach it, and its workers share its process group), output
# to $VAR/log/NAME.log; sets LAUNCH_PID. The pid file is written by the
# process itself just before it becomes the program (setsid, setpriv and env
# exec in place: the background child is the program). Bash makes background
# commands ignore SIGINT and SIGQUIT; env puts them back.
launch_program() {
	local name=$1 exe=$BIN/$1 pidf=$VAR/run/$1.pid sock=$VAR/run/$1.sock i
	rm -f "$pidf" "$pidf.start" "$sock"
	local args=(--socket "$sock")
	[[ $name == wsd || $name == mailer ]] || args+=(--workers "$MSGR_WORKERS")
	program_env
	# shellcheck disable=SC2016
	setsid /bin/bash -c 'echo $$ >"$0" && exec "$@"' "$pidf" \
		"${RUNAS[@]}" /usr/bin/env -i --default-signal=INT,QUIT "${PROGRAM_ENV[@]}" "$exe" "${args[@]}" \
		</dev/null >>"$VAR/log/$name.log" 2>&1 &
	LAUNCH_PID=$!
	for ((i = 0; i < 50; i++)); do
		[[ -s $pidf ]] && break
		sleep 0.1
	done
	remember_start "$pidf"
}

supervisor_pidfile() { printf '%s\n' "$VAR/run/$1.supervisor.pid"; }
# A supervisor killed outright may stay a zombie for a while (a container's
# init reaps slowly): is_ours counts that one as ended. (Asking "is it a
# zombie?" after "is it ours?" would race with its reaping: a zombie reaped
# in between would pass for running.)
supervisor_running() {
	is_ours "$(supervisor_pidfile "$1")" "supervise $1 $VAR"
}

# Starts the supervisor of a program (which starts the program, or watches
# the one already running), in its own session and from /, its output to
# $VAR/log/supervise.log. It is this script again, with this environment: a
# program it starts again gets the settings it was first started with.
start_program() {
	local name=$1 exe=$BIN/$1 pidf
	pidf=$(supervisor_pidfile "$1")
	if [[ ! -x $exe ]]; then
		say "no $exe: not starting $name"
		return 0
	fi
	supervisor_running "$name" && return 0
	rm -f "$VAR/run/$name.exit"
	# No socket left by an earlier run may pass for the new one's.
	program_running "$name" || rm -f "$VAR/run/$name.pid" "$VAR/run/$name.pid.start" "$VAR/run/$name.sock"
	(cd / && exec setsid "$top/scripts/stack.sh" supervise "$name" "$VAR" \
		</dev/null >>"$VAR/log/supervise.log" 2>&1) &
	LAUNCHED[$name]=$!
	echo "$!" >"$pidf"
	remember_start "$pidf"
}

stop_program() {
	# The supervisor first, so that it does not start the program again
	# (quietly: "stopped NAME" is said once, for the program).
	stop_pidfile "$1 supervisor" "$(supervisor_pidfile "$1")" "supervise $1 $VAR" 2>/dev/null
	stop_pidfile "$1" "$VAR/run/$1.pid" "$VAR/run/$1.sock"
	rm -f "$VAR/run/$1.sock" "$VAR/run/$1.exit"
}

slog() { printf '%s stack: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S')" "$*"; }

# The supervisor of one program (`stack.sh supervise NAME VAR`). It starts the
# program and waits for it; when it ends other than with status 0 (its
# answer to SIGTERM), it records the status in $VAR/run/NAME.exit, waits
# (0.5 s doubling up to 30 s, back to 0.5 s after a run of a minute or more)
# and starts it again. SIGTERM ends it without touching the program, which
# the one who sent it (stop, restart NAME) stops next.
cmd_supervise() {
	local name=$1 pidf=$VAR/run/$1.pid stopping=0 sleeper='' pid rc started
	local delay=$RESTART_MIN_MS runs=0
	# shellcheck disable=SC2317 # the trap runs it
	on_stop() {
		stopping=1
		[[ -z $sleeper ]] || kill "$sleeper" 2>/dev/null || true
	}
	trap on_stop TERM INT HUP
	while ((!stopping)); do
		started=$SECONDS
		if ((runs == 0)) && program_running "$name"; then
			# Already running (a start again after this supervisor died):
			# watched, not a child, so polled.
			pid=$(pidfile_pid "$pidf")
			while ((!stopping)) && program_running "$name" && ! is_zombie "$pid"; do
				sleep 0.5 &
				sleeper=$!
				wait "$sleeper" 2>/dev/null || true
				sleeper=''
			done
			rc=unknown
		else
			launch_program "$name" 2>/dev/null # not bash's notices of killed jobs
			pid=$LAUNCH_PID
			# A stop that came while it was starting: the wait below
			# would outlast it (the trap has run already).
			((stopping)) && break
			rc=0
			wait "$pid" 2>/dev/null || rc=$?
			# A trapped signal ends the wait early: the program runs on.
			((stopping)) && kill -0 "$pid" 2>/dev/null && break
		fi
		runs=$((runs + 1))
		((stopping)) && break
		echo "$rc" >"$VAR/run/$name.exit"
		rm -f "$pidf" "$pidf.start" "$VAR/run/$name.sock"
		if [[ $rc == 0 ]]; then
			slog "$name (pid $pid) exited with status 0 (asked to stop): not starting it again"
			break
		fi
		((SECONDS - started < RESTART_RESET_S)) || delay=$RESTART_MIN_MS
		local why="exited with status $rc"
		[[ $rc == unknown ]] && why="ended"
		[[ $rc =~ ^[0-9]+$ ]] && ((rc > 128)) && why="was killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null || echo ?))"
		slog "$name (pid $pid) $why after $((SECONDS - started)) s; starting it again in $((delay / 1000)).$(printf '%03d' $((delay % 1000))) s"
		slog "$name $why; restarting in $((delay / 1000)).$(printf '%03d' $((delay % 1000))) s (scripts/stack.sh supervise)" >>"$VAR/log/$name.log"
		sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))" &
		sleeper=$!
		wait "$sleeper" 2>/dev/null || true
		sleeper=''
		delay=$((delay * 2 > RESTART_MAX_MS ? RESTART_MAX_MS : delay * 2))
	done
	rm -f "$(supervisor_pidfile "$name")" "$(supervisor_pidfile "$name").start"
}

# A program this invocation started that is gone: 0 when that is fine (a
# placeholder wsd that exits 0 at once), 1 after reporting it. Its
# supervisor leaves the status in NAME.exit.
check_exited() {
	local name=$1 rc
	[[ -n ${LAUNCHED[$1]:-} && -s $VAR/run/$name.exit ]] || return 0
	rc=$(cat "$VAR/run/$name.exit")
	unset "LAUNCHED[$name]"
	if [[ $name == wsd && $rc == 0 ]]; then
		say "wsd exited at once with status 0 (a placeholder?): going on without it"
		return 0
	fi
	stop_program "$name"
	say "$name exited with status $rc; the end of $VAR/log/$name.log:"
	tail -n 30 "$VAR/log/$name.log" >&2 || true
	return 1
}

# ---- nginx ------------------------------------------------------------------------

nginx_running() { is_ours "$VAR/run/nginx.pid" "$VAR/nginx/nginx.conf"; }

nginx_start() {
	RUN_DIR=$VAR/run STORAGE_DIR=$FILES_DIR WWW_DIR=$WWW CONF_DIR=$VAR/nginx VAR_DIR=$VAR \
		PORT=$PORT LISTEN_ADDR=$LISTEN_ADDR URL_PREFIX= "$top/scripts/render-nginx.sh" "$VAR/nginx" 2>/dev/null
	# nginx opens its logs by name, as the run user.
	touch "$VAR/log/nginx-error.log" "$VAR/log/nginx-access.log"
	[[ $(id -u) != 0 ]] || chown -R "$RUN_USER:" "$VAR/nginx" "$VAR/log/nginx-error.log" "$VAR/log/nginx-access.log"
	if nginx_running; then
		as_user "$NGINX" -p "$VAR/nginx/" -c "$VAR/nginx/nginx.conf" -e "$VAR/log/nginx-error.log" \
			-s reload </dev/null >>"$VAR/log/nginx-error.log" 2>&1 || true
		return 0
	fi
	as_user "$NGINX" -p "$VAR/nginx/" -c "$VAR/nginx/nginx.conf" -e "$VAR/log/nginx-error.log" \
		</dev/null >>"$VAR/log/nginx-error.log" 2>&1 || {
		tail -n 20 "$VAR/log/nginx-error.log" >&2 || true
		return 1
	}
	remember_start "$VAR/run/nginx.pid"
}

nginx_stop() { stop_pidfile nginx "$VAR/run/nginx.pid" "$VAR/nginx/nginx.conf"; }

# ---- commands ---------------------------------------------------------------------

print_log_tails() {
	local f
	for f in "$VAR"/log/*.log "$VAR"/log/asan* "$VAR"/log/ubsan*; do
		[[ -s $f ]] || continue
		printf '\n==> %s <==\n' "$f" >&2
		tail -n 25 "$f" >&2
	done
}

health_ok() {
	curl -gfsS -o /dev/null --max-time 2 "$URL/api/health" 2>/dev/null
}

# Only what app hosts share (SHARED_VAR): the database, migrated, the
# secret and the files directory.
cmd_start_db() {
	[[ -z $SHARED_VAR ]] || die "start-db starts a database of its own: leave SHARED_VAR unset"
	trap on_start_exit EXIT
	init_fs
	pg_start
	migrate
	trap - EXIT
	say "the database is up (state in $VAR); app hosts start with SHARED_VAR=$VAR"
}

cmd_init() {
	init_fs
	if pg_running; then
		migrate
	else
		pg_start
		migrate
		pg_stop
	fi
}

# On a failed start: the ends of the logs, and nothing left running.
on_start_exit() {
	local rc=$?
	((rc == 0)) && return 0
	set +e
	say "start failed; the ends of the logs in $VAR/log:"
	print_log_tails
	cmd_stop >/dev/null 2>&1
	exit "$rc"
}

# What start needs and cannot make itself, checked before anything starts:
# one line saying what to run instead of a failure halfway.
preflight() {
	local name missing=()
	for name in "${PROGRAMS[@]}"; do
		[[ -x $BIN/$name ]] || missing+=("$name")
	done
	if ((${#missing[@]} == ${#PROGRAMS[@]})); then
		die "no programs in $BIN (not built?): run \`make run\` (installs the packages, builds and starts) or \`make all\` and then \`make start\`"
	fi
	[[ -x $PGBIN/initdb && -x $NGINX ]] ||
		die "PostgreSQL 15 ($PGBIN) or nginx ($NGINX) is not installed: run \`make deps\` (or \`make run\`) first"
}

cmd_start() {
	preflight
	trap on_start_exit EXIT
	init_fs
	ensure_readable "$BIN" "$WWW"
	pg_start
	migrate
	local name
	[[ -n ${MSGR_SMTP_URL:-} ]] || say 'MSGR_SMTP_URL is not set: no mailer, mail waits in the outbox (README "Mail")'
	for name in "${PROGRAMS[@]}"; do
		start_program "$name"
	done
	nginx_start || die "nginx did not start"

	# Ready when every program that runs has its socket and nginx answers
	# the health check.
	local deadline=$((SECONDS + START_TIMEOUT)) ready
	while :; do
		ready=1
		for name in "${!LAUNCHED[@]}"; do
			check_exited "$name" || exit 1
			[[ -z ${LAUNCHED[$name]:-} || -S $VAR/run/$name.sock ]] || ready=0
		done
		if ((ready)) && health_ok; then
			break
		fi
		if ((SECONDS >= deadline)); then
			die "$URL/api/health did not answer 200 within ${START_TIMEOUT}s"
		fi
		sleep 0.2
	done
	trap - EXIT
	say "Messenger is up at $URL/ (state in $VAR)"
}

cmd_stop() {
	nginx_stop
	local name
	# The mailer whether or not this invocation has MSGR_SMTP_URL: the
	# start may have had it.
	for name in mailer wsd "${FCGI_PROGRAMS[@]}"; do
		stop_program "$name"
	done
	if pg_running; then
		pg_stop
		say "stopped postgres"
	fi
}

cmd_run() {
	# The trap comes first: a Ctrl-C during the start stops what started.
	local stopping=0
	on_signal() {
		((stopping)) && return
		stopping=1
		trap '' INT TERM HUP
		echo >&2
		cmd_stop
		exit 0
	}
	trap on_signal INT TERM HUP
	cmd_start
	echo "Messenger is running at $URL/ — press Ctrl-C to stop"
	while :; do
		sleep 1 &
		wait $! || true
	done
}

cmd_restart_db() {
	pg_running || die "postgres is not running"
	pg_ctl -l "$VAR/log/postgres.log" -m fast -w -t 60 restart >"$VAR/log/pg_ctl.log" 2>&1 </dev/null || {
		tail -n 30 "$VAR/log/pg_ctl.log" "$VAR/log/postgres.log" >&2 || true
		die "PostgreSQL did not restart"
	}
	say "restarted postgres"
}

cmd_restart() {
	local name=${1:-} i
	case " ${PROGRAMS[*]} " in
	*" $name "*) ;;
	*) die "restart what? one of: ${PROGRAMS[*]}" ;;
	esac
	stop_program "$name"
	start_program "$name"
	[[ -n ${LAUNCHED[$name]:-} ]] || return 0
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		check_exited "$name" || die "$name did not start"
		[[ -z ${LAUNCHED[$name]:-} || -S $VAR/run/$name.sock ]] && break
		sleep 0.1
	done
	[[ -z ${LAUNCHED[$name]:-} || -S $VAR/run/$name.sock ]] || die "$name has no socket after ${START_TIMEOUT}s"
	say "restarted $name"
}

cmd_status() {
	local all=0 name pid
	if [[ -n $SHARED_VAR ]]; then
		if as_user "$PGBIN/pg_ctl" -D "$SHARED_VAR/pg" status >/dev/null 2>&1; then
			printf '%-9s running  (shared, %s)\n' postgres "$SHARED_VAR"
		else
			printf '%-9s stopped  (shared, %s)\n' postgres "$SHARED_VAR"
			all=3
		fi
	elif pg_running; then
		printf '%-9s running  %s\n' postgres "$(head -n1 "$VAR/pg/postmaster.pid")"
	else
		printf '%-9s stopped\n' postgres
		all=3
	fi
	for name in "${PROGRAMS[@]}"; do
		pid=$(pidfile_pid "$VAR/run/$name.pid")
		if program_running "$name"; then
			if supervisor_running "$name"; then
				printf '%-9s running  %s  (supervisor %s)\n' "$name" "$pid" "$(pidfile_pid "$(supervisor_pidfile "$name")")"
			else
				printf '%-9s running  %s  (no supervisor: start starts one)\n' "$name" "$pid"
			fi
		elif supervisor_running "$name"; then
			printf '%-9s stopped  (its supervisor starts it again)\n' "$name"
			all=3
		else
			printf '%-9s stopped\n' "$name"
			[[ ! -x $BIN/$name ]] || all=3
		fi
	done
	if nginx_running; then
		printf '%-9s running  %s  %s\n' nginx "$(pidfile_pid "$VAR/run/nginx.pid")" "$URL/"
	else
		printf '%-9s stopped\n' nginx
		all=3
	fi
	return $all
}

# msgrctl as the programs run (the run user: the database's socket is
# theirs alone), with their environment, so that it reaches this stack's
# database and prints links under its URL. The audit log names the caller
# (SUDO_USER, which msgrctl prefers to the account it runs as).
cmd_msgrctl() {
	[[ -x $BIN/msgrctl ]] || die "$BIN/msgrctl is missing: run make first"
	pg_running || die "the database of $VAR is not running: make start first"
	program_env
	local caller=${SUDO_USER:-$(id -un 2>/dev/null || echo "uid $(id -u)")}
	cd /
	exec "${RUNAS[@]}" /usr/bin/env -i "${PROGRAM_ENV[@]}" SUDO_USER="$caller" "$BIN/msgrctl" "$@"
}

case ${1:-} in
init) cmd_init ;;
start) cmd_start ;;
start-db) cmd_start_db ;;
supervise)
	[[ ${3:-} == "$VAR" && " ${PROGRAMS[*]} " == *" ${2:-} "* ]] || die "supervise NAME VAR is for stack.sh itself"
	cmd_supervise "$2"
	;;
stop) cmd_stop ;;
run) cmd_run ;;
status) cmd_status ;;
restart-db) cmd_restart_db ;;
restart) cmd_restart "${2:-}" ;;
msgrctl)
	shift
	cmd_msgrctl "$@"
	;;
*)
	echo "usage: $0 init|start|start-db|stop|run|status|restart-db|restart NAME|msgrctl ARGS..." >&2
	exit 2
	;;
esac

#!/usr/bin/env bash
# container.sh - the entry point of every service in docker-compose.yml.
#
#   scripts/container.sh postgres|init|app|wsd|nginx|mailer
#   scripts/container.sh health postgres|app|wsd|nginx|mailer
#
# One image (docker/Dockerfile) runs every service as the user messenger;
# they share the unix sockets in $MSGR_RUN_DIR (a volume), the way the local
# stack (scripts/stack.sh) shares $VAR/run. Each role ends in exec, or waits
# for its programs, so that the container stops when they do and the stop
# signal reaches the server itself (postgres: SIGINT, its fast shutdown).
# Everything logs to the container's stdout and stderr: the programs and
# PostgreSQL to stderr, nginx its access log to stdout.
#
# `health SERVICE` is the service's healthcheck (docker-compose.yml): it asks
# the service itself, over its socket or port, and fails (exit 1) when it
# does not answer within a few seconds.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
RUN_DIR=${MSGR_RUN_DIR:-/run/messenger}
STATE=${MSGR_STATE_DIR:-/var/lib/messenger}
PGDATA=${PGDATA:-$STATE/pg}
BIN=${BIN:-$top/build/bin}
PORT=${PORT:-8080}
LISTEN_ADDR=${LISTEN_ADDR:-0.0.0.0}
# The FastCGI sockets of the app service; messages.sock.loop is the
# companion of messages (or its wait pool with MSGR_SEND_BATCH=0).
FCGI_SOCKETS=(auth.sock chats.sock messages.sock messages.sock.loop files.sock)

say() { printf 'container: %s\n' "$*" >&2; }

wait_for_db() {
	local i
	for ((i = 0; i < 120; i++)); do
		"$PGBIN/pg_isready" -q -h "$RUN_DIR" -d postgres && return 0
		sleep 1
	done
	say "PostgreSQL did not come up in $RUN_DIR"
	exit 1
}

# Sends one FastCGI request to a socket and succeeds when the program
# answers it with a status below 500. The request (GET /) is one no program
# routes: each answers 404 without the database, so that a database away
# makes no program unhealthy (the programs are up and will reconnect;
# PostgreSQL has its own check). A socket nobody serves, a worker that
# closes without an answer or one that hangs all fail.
fcgi_answers() {
	local out
	out=$(REQUEST_METHOD=GET SCRIPT_NAME=/ REQUEST_URI=/ \
		DOCUMENT_URI=/ QUERY_STRING='' SERVER_PROTOCOL=HTTP/1.1 \
		timeout 5 cgi-fcgi -bind -connect "$1" </dev/null 2>&1) || {
		say "health: no answer on $1${out:+: $out}"
		return 1
	}
	if [[ ! $out =~ (^|$'\n')Status:\ [1-4][0-9][0-9] ]]; then
		say "health: $1 answered ${out%%$'\r'*}"
		return 1
	fi
}

# An HTTP status from curl's arguments, or 000 when nothing answered.
http_status() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true
}

health() {
	local code sock host
	case ${1:-} in
	postgres)
		"$PGBIN/pg_isready" -q -t 5 -h "$RUN_DIR" -d postgres
		;;
	app)
		for sock in "${FCGI_SOCKETS[@]}"; do
			fcgi_answers "$RUN_DIR/$sock" || return 1
		done
		;;
	wsd)
		# A plain GET is refused with 400 (only upgrades are served), which
		# takes wsd's event loop to answer.
		code=$(http_status --unix-socket "$RUN_DIR/wsd.sock" http://wsd/ws)
		[[ $code == 400 ]] || { say "health: wsd answered $code"; return 1; }
		;;
	nginx)
		# The web app, which nginx serves itself: the programs behind it have
		# their own checks.
		host=$LISTEN_ADDR
		[[ $host == 0.0.0.0 ]] && host=127.0.0.1
		code=$(http_status "http://$host:$PORT/")
		[[ $code == 200 ]] || { say "health: nginx answered $code"; return 1; }
		;;
	mailer)
		# The mailer serves nothing on its socket: it listens once the
		# database answered (mailer/main.c). A listening socket of that path
		# (flags 00010000, __SO_ACCEPTCON, in /proc/net/unix) means a live
		# mailer; the file alone outlives a killed one.
		sock=$RUN_DIR/mailer.sock
		awk -v p="$sock" '$NF == p && $4 == "00010000" { up = 1 } END { exit !up }' /proc/net/unix ||
			{ say "health: nothing listens on $sock"; return 1; }
		;;
	*)
		echo "usage: $0 health postgres|app|wsd|nginx|mailer" >&2
		return 2
		;;
	esac
}

case ${1:-} in
health)
	health "${2:-}"
	;;
postgres)
	if [[ ! -s $PGDATA/PG_VERSION ]]; then
		"$PGBIN/initdb" -D "$PGDATA" -U "$(id -un)" --auth=trust --encoding=UTF8 --locale=C.UTF-8
	fi
	exec "$PGBIN/postgres" -D "$PGDATA" \
		-c listen_addresses='' \
		-c unix_socket_directories="$RUN_DIR" \
		-c unix_socket_permissions=0700 \
		-c max_connections=200 \
		-c shared_buffers=256MB
	;;
init)
	# One-shot: the server secret, then the schema. The programs start after.
	secret=${MSGR_SECRET_FILE:?MSGR_SECRET_FILE is required}
	if [[ ! -s $secret ]]; then
		(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$secret.tmp" && mv -f "$secret.tmp" "$secret")
		say "created the server secret $secret"
	fi
	wait_for_db
	PGHOST=$RUN_DIR PGUSER=$(id -un) PGDATABASE=messenger exec "$top/scripts/migrate.sh"
	;;
app)
	# The FastCGI programs, one socket each; the container ends when any ends.
	pids=()
	for prog in auth chats messages files; do
		if [[ -x $BIN/$prog ]]; then
			"$BIN/$prog" --socket "$RUN_DIR/$prog.sock" --workers "${MSGR_WORKERS:-4}" &
			pids+=($!)
		else
			say "no $BIN/$prog"
		fi
	done
	((${#pids[@]})) || exit 1
	trap 'kill -TERM "${pids[@]}" 2>/dev/null || true' TERM INT
	status=0
	wait -n || status=$?
	kill -TERM "${pids[@]}" 2>/dev/null || true
	wait || true
	exit "$status"
	;;
wsd)
	exec "$BIN/wsd" --socket "$RUN_DIR/wsd.sock"
	;;
mailer)
	# Only in the compose profile "mail" (docker-compose.yml), and there it
	# needs a relay: without one it would only wait (README "Mail").
	if [[ -z ${MSGR_SMTP_URL:-} ]]; then
		say "mailer: MSGR_SMTP_URL is not set (the \"mail\" profile needs a relay: README \"Mail\")"
		exit 78
	fi
	wait_for_db
	exec "$BIN/mailer" --socket "$RUN_DIR/mailer.sock"
	;;
nginx)
	conf=${TMPDIR:-/tmp}/nginx
	mkdir -p "$conf" "$conf/log" "$conf/tmp"
	RUN_DIR=$RUN_DIR STORAGE_DIR=${MSGR_STORAGE_DIR:-$STATE/files} WWW_DIR=$top/www \
		CONF_DIR=$conf VAR_DIR=$conf PORT=$PORT LISTEN_ADDR=$LISTEN_ADDR \
		"$top/scripts/render-nginx.sh" "$conf"
	# Errors to the container's stderr, which nginx writes to directly
	# ("stderr"). The access log to its stdout: nginx opens /dev/stdout,
	# which a user that is not root may only do when the container runtime
	# gave it its output (runc and crun do: they chown a container's stdio to
	# its user); otherwise the access log stays in a file and this says where.
	access=/dev/stdout
	if [[ ! -w /dev/stdout ]]; then
		access=$conf/log/nginx-access.log
		say "nginx: cannot write to /dev/stdout: access log in $access"
	fi
	sed -i -e 's|^error_log .*;|error_log stderr warn;|' \
		-e "s|^\( *\)access_log .*;|\1access_log $access messenger;|" "$conf/nginx.conf"
	grep -q "access_log $access messenger;" "$conf/nginx.conf" || {
		say "nginx.conf has no access_log line to point at $access"
		exit 1
	}
	exec nginx -p "$conf/" -c "$conf/nginx.conf" -e stderr -g 'daemon off;'
	;;
*)
	echo "usage: $0 postgres|init|app|wsd|nginx | health SERVICE" >&2
	exit 2
	;;
esac

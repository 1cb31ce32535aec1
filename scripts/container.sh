#!/usr/bin/env bash
# container.sh - the entry point of every service in docker-compose.yml.
#
#   scripts/container.sh postgres|init|app|wsd|nginx
#
# One image (docker/Dockerfile) runs every service as the user messenger;
# they share the unix sockets in $MSGR_RUN_DIR (a volume), the way the local
# stack (scripts/stack.sh) shares $VAR/run. Each role ends in exec, or waits
# for its programs, so that the container stops when they do.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
RUN_DIR=${MSGR_RUN_DIR:-/run/messenger}
STATE=${MSGR_STATE_DIR:-/var/lib/messenger}
PGDATA=${PGDATA:-$STATE/pg}
BIN=${BIN:-$top/build/bin}
PORT=${PORT:-8080}

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

case ${1:-} in
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
nginx)
	conf=/tmp/nginx
	mkdir -p "$conf" "$conf/log" "$conf/tmp"
	RUN_DIR=$RUN_DIR STORAGE_DIR=${MSGR_STORAGE_DIR:-$STATE/files} WWW_DIR=$top/www \
		CONF_DIR=$conf VAR_DIR=$conf PORT=$PORT LISTEN_ADDR=0.0.0.0 \
		"$top/scripts/render-nginx.sh" "$conf"
	# Errors go to the container's output. Not through /dev/stderr: a
	# process that is not root may not reopen a pipe that root made.
	sed -i 's|^error_log .*;|error_log stderr warn;|' "$conf/nginx.conf"
	exec nginx -p "$conf/" -c "$conf/nginx.conf" -e stderr -g 'daemon off;'
	;;
*)
	echo "usage: $0 postgres|init|app|wsd|nginx" >&2
	exit 2
	;;
esac

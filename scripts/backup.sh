#!/usr/bin/env bash
# backup.sh - one consistent backup of a stack: the database, the stored
# files and the server secret.
#
#   VAR=/path/to/state scripts/backup.sh [BACKUP_DIR]
#
#   VAR         the stack's state directory (default: the repo's var/)
#   BACKUP_DIR  where the backup goes (default $VAR/backups/<UTC timestamp>);
#               a name ending in .tar makes one tar archive instead of a
#               directory. It must not exist yet.
#   MSGR_STORAGE_URL  the stack's setting: an s3:// one makes a backup of the
#               database and the keys, not the files (below)
#
# A backup holds manifest.json (format, versions, the applied migrations,
# counts), messenger.dump (pg_dump -Fc), secret and files/ (the stored files
# the dump refers to, under their keys). It is built under BACKUP_DIR.partial
# and renamed at the end: a BACKUP_DIR that exists is complete. The stack
# may be running (nothing stops); when its database is not, the database
# alone is started for the dump and stopped again. scripts/restore.sh
# brings a backup back.
#
# Why the files and the dump agree (shared/storage.h): a stored file lives
# under its key from its publication, which comes after the commit of its
# row, until its unlink, which comes after the commit that marks its row
# deleted. So a row that is live (deleted_at IS NULL) in a snapshot has its
# bytes on disk, or about to be renamed there, until someone marks it after
# that snapshot. Dumping first and copying after loses the files deleted
# meanwhile; copying first and dumping after misses the files uploaded
# meanwhile. Instead:
#
#  1. one session takes LOCK TABLE files IN SHARE MODE: it waits for the
#     transactions writing files to end and holds off new ones, so no row
#     of files is marked deleted (nor inserted) while it is held;
#  2. a second session, then, opens a REPEATABLE READ transaction, exports
#     its snapshot and lists the live rows of that snapshot: while the lock
#     is held, exactly these rows are live, none can be marked, so none of
#     their files can be unlinked;
#  3. each listed file is hard-linked into a staging directory inside the
#     storage directory (same filesystem; milliseconds per thousand files).
#     A row committed but not published yet is found under its temporary
#     name, or under its key a moment later (retried for a second);
#  4. the lock is released: uploads and deletes go on. An unlink from now on
#     removes a name, not the staged link, so the bytes stay;
#  5. pg_dump --snapshot dumps that same snapshot, the staged files are
#     copied into the backup and the staging directory removed.
#
# The dump therefore refers to exactly the files staged. The lock holds off
# only what writes the files table (uploads, attaching, deleting a message
# or an avatar), and only for step 3; plain sends and reads never wait. A
# live row whose bytes the stack itself lacks (a crash between a commit and
# its rename more than an hour ago, which the sweep cleaned) is listed in
# the manifest as missing_files and reported; the backup is as complete as
# the stack was.
#
# On an object store (MSGR_STORAGE_URL=s3://..., taken from the
# environment: run it with the deployment's settings) the files are the
# bucket's, and the bucket is kept by the store's own means (versioning,
# replication; README "Backups"): the backup holds no files/ but
# store-keys, the keys of the files live in the dump's snapshot, and the
# manifest names the store ("storage"). Nothing is staged, so no lock is
# taken: the snapshot alone lists its live keys. An object deleted after
# the snapshot is gone from the bucket unless the store keeps versions.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

ME=backup
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"


VAR=$(abs "${VAR:-$top/var}")
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
LOCK_TIMEOUT=${BACKUP_LOCK_TIMEOUT:-5s}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
BACKUP_DIR=$(abs "${1:-${BACKUP_DIR:-$VAR/backups/$stamp}}")
FILES=$VAR/files
store=
case ${MSGR_STORAGE_URL:-} in
s3://*) store=$MSGR_STORAGE_URL ;;
esac


# A test hook: run with a step name at each step (tests/integration/test_backup.py).
hook() { [[ -z ${BACKUP_TEST_HOOK:-} ]] || "$BACKUP_TEST_HOOK" "$1"; }

[[ -s $VAR/pg/PG_VERSION ]] || die "no database cluster in $VAR/pg"
[[ -s $VAR/secret ]] || die "no server secret $VAR/secret"
[[ -n $store || -d $FILES ]] || die "no storage directory $FILES"
[[ ! -e $BACKUP_DIR ]] || die "$BACKUP_DIR exists already"
case $BACKUP_DIR in
*.tar) tarball=$BACKUP_DIR ;;
*) tarball= ;;
esac

export PGHOST=$VAR/run PGUSER=$RUN_USER PGDATABASE=messenger
export PGOPTIONS="-c client_min_messages=warning"
PSQL=("$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1)

build=$BACKUP_DIR.partial
work=$(mktemp -d "${TMPDIR:-/tmp}/msgr-backup.XXXXXX")
stage=$FILES/.backup-stage.$$
lock_pid='' snap_pid='' started_pg=0
cleanup() {
	local rc=$?
	exec 7>&- 8>&- 2>/dev/null || true
	# Only the sessions this script started, by their pids.
	[[ -z $lock_pid ]] || kill "$lock_pid" 2>/dev/null || true
	[[ -z $snap_pid ]] || kill "$snap_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work" "$stage"
	if ((started_pg)); then
		as_user "$PGBIN/pg_ctl" -D "$VAR/pg" -m fast -w stop >/dev/null 2>&1 || true
	fi
	if ((rc != 0)); then
		rm -rf "$build" "$build.tar"
		say "failed; nothing was kept"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if ! as_user "$PGBIN/pg_ctl" -D "$VAR/pg" status >/dev/null 2>&1; then
	say "the database of $VAR is not running: starting it for the dump"
	as_user "$PGBIN/pg_ctl" -D "$VAR/pg" -l "$VAR/log/postgres.log" -w -t 60 start >/dev/null </dev/null ||
		die "PostgreSQL did not start (see $VAR/log/postgres.log)"
	started_pg=1
fi

# A session fed through a fifo, so that it keeps its transaction open while
# this script goes on; it touches $work/NAME.ok when it reaches a point.
open_session() {
	local name=$1
	mkfifo "$work/$name.in"
	"${PSQL[@]}" <"$work/$name.in" >"$work/$name.out" 2>"$work/$name.err" &
	printf -v "${name}_pid" '%s' $!
}

# Waits for $work/$1.ok; fails when the session ends first.
wait_ok() {
	local name=$1 pid=$2 i
	for ((i = 0; i < 1200; i++)); do
		[[ -e $work/$name.ok ]] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# Old staging directories of a backup that was killed.
find "$FILES" -mindepth 1 -maxdepth 1 -type d -name '.backup-stage.*' -mmin +60 \
	-exec rm -rf {} + 2>/dev/null || true

mkdir -p "$(dirname "$BACKUP_DIR")"
mkdir -m 0700 "$build"
if [[ -z $store ]]; then
	mkdir -m 0700 "$stage"
	mkdir "$build/files"
fi

# 1. The lock, retried: lock_timeout keeps the stack's writers from queueing
# behind a lock that waits for a long transaction. (None on a store.)
for attempt in 1 2 3 4 5; do
	[[ -z $store ]] || break
	open_session lock
	exec 7>"$work/lock.in"
	printf "SET lock_timeout = '%s';\nBEGIN;\nLOCK TABLE public.files IN SHARE MODE;\n\\\\! touch '%s'\n" \
		"$LOCK_TIMEOUT" "$work/lock.ok" >&7
	wait_ok lock "$lock_pid" && break
	exec 7>&-
	wait "$lock_pid" 2>/dev/null || true
	lock_pid=
	((attempt < 5)) || die "could not lock the files table: $(cat "$work/lock.err")"
	say "the files table is busy; trying again"
	rm -f "$work/lock.in"
	sleep 1
done
[[ -n $store ]] || hook locked

# 2. The snapshot, its live files and what the manifest tells of it.
open_session snap
exec 8>"$work/snap.in"
cat >&8 <<SQL
BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
SELECT pg_export_snapshot() \g '$work/snapshot'
\copy (SELECT storage_key FROM public.files WHERE deleted_at IS NULL ORDER BY 1) TO '$work/live'
\copy (SELECT version FROM public.schema_migrations ORDER BY 1) TO '$work/migrations'
SELECT json_build_object('users', (SELECT count(*) FROM public.users), 'chats', (SELECT count(*) FROM public.chats), 'messages', (SELECT count(*) FROM public.messages), 'files', (SELECT count(*) FROM public.files WHERE deleted_at IS NULL), 'file_bytes', (SELECT coalesce(sum(size), 0) FROM public.files WHERE deleted_at IS NULL)) \g '$work/counts'
SELECT current_setting('server_version') \g '$work/server_version'
\! touch '$work/snap.ok'
SQL
wait_ok snap "$snap_pid" || die "could not take a snapshot: $(cat "$work/snap.err")"
hook snapshot

# 3. Link the live files into the staging directory; then the ones not
# found (published a moment late) under either name, for up to a second.
# On a store: none (the bucket is not copied).
export LC_ALL=C
sort -o "$work/live" "$work/live"
: >"$work/missing"
if [[ -z $store && -s $work/live ]]; then
	(cd "$FILES" && xargs -r -a "$work/live" cp -l -t "$stage" -- 2>/dev/null) || true
fi
missing() { comm -23 "$work/live" <(find "$stage" -mindepth 1 -maxdepth 1 -printf "%f\n" | LC_ALL=C sort); }
for ((i = 0; i < 20; i++)); do
	[[ -z $store ]] || break
	missing >"$work/missing"
	[[ -s $work/missing ]] || break
	while read -r key; do
		ln "$FILES/$key" "$stage/$key" 2>/dev/null ||
			ln "$FILES/.upload-$key" "$stage/$key" 2>/dev/null || true
	done <"$work/missing"
	missing >"$work/missing"
	[[ -s $work/missing ]] || break
	sleep 0.05
done
# 4. Release the lock: the stack writes files again.
if [[ -z $store ]]; then
	hook linked
	printf 'COMMIT;\n\\q\n' >&7
	exec 7>&-
	wait "$lock_pid" || die "the lock session failed: $(cat "$work/lock.err")"
	lock_pid=
	hook unlocked
fi

# 5. The dump of that snapshot, the files, the secret, the manifest.
"$PGBIN/pg_dump" --format=custom --snapshot="$(cat "$work/snapshot")" \
	-f "$build/messenger.dump" 2>"$work/dump.err" || die "pg_dump failed: $(cat "$work/dump.err")"
printf 'COMMIT;\n\\q\n' >&8
exec 8>&-
wait "$snap_pid" || true
snap_pid=
hook dumped

if [[ -n $store ]]; then
	cp "$work/live" "$build/store-keys"
else
	cp -a "$stage/." "$build/files/"
	rm -rf "$stage"
fi
cp "$VAR/secret" "$build/secret"
chmod 0600 "$build/secret"

json_list() {
	local first=1 line
	printf '['
	while read -r line; do
		((first)) || printf ', '
		first=0
		printf '"%s"' "$line"
	done <"$1"
	printf ']'
}
n_missing=$(wc -l <"$work/missing")
code=$(git -C "$top" rev-parse HEAD 2>/dev/null || echo unknown)
{
	printf '{\n'
	printf '  "format": 1,\n'
	printf '  "created_at": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '  "source_var": "%s",\n' "$VAR"
	printf '  "code": "%s",\n' "$code"
	printf '  "postgresql": "%s",\n' "$(cat "$work/server_version")"
	printf '  "pg_dump": "%s",\n' "$("$PGBIN/pg_dump" --version | sed 's/.* //')"
	printf '  "migrations": %s,\n' "$(json_list "$work/migrations")"
	printf '  "counts": %s,\n' "$(cat "$work/counts")"
	# (the URL names bucket, endpoint and region: the key pair is apart)
	[[ -z $store ]] || printf '  "storage": "%s",\n' "$store"
	printf '  "missing_files": %s\n' "$(json_list "$work/missing")"
	printf '}\n'
} >"$build/manifest.json"

if [[ -n $tarball ]]; then
	(umask 077 && tar -C "$build" -cf "$build.tar" .) # it holds the secret
	mv "$build.tar" "$tarball"
	rm -rf "$build"
else
	mv "$build" "$BACKUP_DIR"
fi
if ((n_missing)); then
	say "WARNING: $n_missing live file(s) had no bytes in $FILES (listed in the manifest as missing_files)"
fi
say "$(wc -l <"$work/live") file(s)${store:+ (in the object store, not copied: store-keys lists them)}, $(cat "$work/counts")"
echo "$BACKUP_DIR"

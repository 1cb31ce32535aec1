#!/usr/bin/env bash
# restore.sh - a backup of scripts/backup.sh back into a state directory.
#
#   VAR=/path/to/state scripts/restore.sh FROM [--force]
#
#   FROM     a backup: its directory, or its .tar archive
#   VAR      the state directory to restore into (default: the repo's var/);
#            a fresh one is made as scripts/stack.sh makes it
#   --force  (or FORCE=1) restore into a state directory that already holds
#            a database, files or a secret: they are moved aside into
#            $VAR/replaced-<timestamp>/ first, never deleted
#
# The stack of VAR must be stopped. Steps: the secret and the files go into
# place, `stack.sh init` makes the cluster, the roles and the database, the
# database is emptied and the dump restored into it in one transaction,
# scripts/migrate.sh brings it to the current schema (a backup of an older
# version upgrades), and every live file the database names is checked to be
# there with its size. As root everything ends owned by the messenger user,
# as stack.sh runs the stack. Then `VAR=... scripts/stack.sh start`.
#
# A backup of a stack on an object store (store-keys instead of files/,
# scripts/backup.sh) brings back the database and the secret; the files
# stay the bucket's, which the restored stack must name again
# (MSGR_STORAGE_URL, as the manifest's "storage" says).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

ME=restore
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"


case ${FORCE:-0} in
1 | yes | true) FORCE=1 ;;
*) FORCE=0 ;;
esac
FROM=${FROM:-}
for arg in "$@"; do
	case $arg in
	--force) FORCE=1 ;;
	-*) die "unknown option $arg" ;;
	*) FROM=$arg ;;
	esac
done
[[ -n $FROM ]] || die "usage: VAR=DIR $0 FROM [--force]   (FROM: a backup directory or .tar)"
[[ -e $FROM ]] || die "no backup $FROM"
FROM=$(abs "$FROM")
VAR=$(abs "${VAR:-$top/var}")
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}


work=$(mktemp -d "${TMPDIR:-/tmp}/msgr-restore.XXXXXX")
started_pg=0 touched=0
cleanup() {
	local rc=$?
	if ((started_pg)); then
		as_user "$PGBIN/pg_ctl" -D "$VAR/pg" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
	((rc == 0 || !touched)) || say "failed; $VAR is not a usable restore (run again with --force)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The backup.
if [[ -f $FROM ]]; then
	tar -C "$work" -xf "$FROM" || die "$FROM is not a tar archive of a backup"
	src=$work
else
	src=$FROM
fi
in_store=0
[[ -e $src/files || ! -e $src/store-keys ]] || in_store=1
for f in manifest.json messenger.dump secret; do
	[[ -e $src/$f ]] || die "$FROM has no $f: not a complete backup"
done
[[ -e $src/files ]] || ((in_store)) || die "$FROM has no files (nor store-keys): not a complete backup"
grep -q '"format": 1,' "$src/manifest.json" || die "$FROM: unknown backup format"
"$PGBIN/pg_restore" --list "$src/messenger.dump" >/dev/null 2>&1 ||
	die "$FROM: messenger.dump is not a readable pg_dump archive"

# The target: stopped, and empty unless told.
if [[ -s $VAR/pg/PG_VERSION ]] && as_user "$PGBIN/pg_ctl" -D "$VAR/pg" status >/dev/null 2>&1; then
	die "the database of $VAR is running: stop the stack first (VAR=$VAR scripts/stack.sh stop)"
fi
held=()
[[ ! -e $VAR/pg ]] || held+=(pg)
[[ ! -e $VAR/secret ]] || held+=(secret)
[[ -z $(ls -A "$VAR/files" 2>/dev/null) ]] || held+=(files)
if ((${#held[@]})); then
	((FORCE)) || die "$VAR already holds ${held[*]}: restore into a fresh VAR, or --force (FORCE=1) to move them aside"
	touched=1
	aside=$VAR/replaced-$(date -u +%Y%m%dT%H%M%SZ)
	mkdir -p "$aside"
	for f in "${held[@]}"; do
		mv "$VAR/$f" "$aside/"
	done
	say "moved the former ${held[*]} aside into $aside"
fi

# The secret and the files, before anything runs (the directory as
# shared/storage.c makes it: nginx may read through the group).
touched=1
mkdir -p "$VAR/files"
((in_store)) || cp -a "$src/files/." "$VAR/files/"
chmod 0750 "$VAR/files"
(umask 077 && cp "$src/secret" "$VAR/secret")
chmod 0600 "$VAR/secret"

# The cluster, the roles and an up-to-date empty database, as the stack
# makes them (and the messenger user as root).
VAR=$VAR "$top/scripts/stack.sh" init
if [[ $(id -u) == 0 ]]; then
	chown -R messenger: "$VAR/files" "$VAR/secret"
fi

as_user "$PGBIN/pg_ctl" -D "$VAR/pg" -l "$VAR/log/postgres.log" -w -t 60 start >/dev/null </dev/null ||
	die "PostgreSQL did not start (see $VAR/log/postgres.log)"
started_pg=1

export PGHOST=$VAR/run PGUSER=$RUN_USER
export PGOPTIONS="-c client_min_messages=warning"
PSQL=("$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1)

# The dump goes into an empty database. Owners and grants are the target's
# own (its superuser may have another name); migrate.sh grants the rest.
"${PSQL[@]}" -d postgres -c 'DROP DATABASE messenger' \
	-c "CREATE DATABASE messenger TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'"
"$PGBIN/pg_restore" --exit-on-error --single-transaction --no-owner --no-privileges \
	-d messenger "$src/messenger.dump" 2>"$work/restore.err" ||
	die "pg_restore failed: $(tail -n 20 "$work/restore.err")"
before=$("${PSQL[@]}" -d messenger -c 'SELECT count(*) FROM public.schema_migrations')
VAR=$VAR PGDATABASE=messenger "$top/scripts/migrate.sh" </dev/null || die "migrations failed"

# Every live file the database names is here, with its size (on a store:
# the bucket's to hold, the keys are in store-keys).
export PGDATABASE=messenger
"${PSQL[@]}" -c "\\copy (SELECT storage_key, size FROM public.files WHERE deleted_at IS NULL ORDER BY 1) TO '$work/live'"
((in_store == 0)) || : >"$work/live"
bad=0
while IFS=$'\t' read -r key size; do
	got=$(stat -c %s "$VAR/files/$key" 2>/dev/null || echo none)
	if [[ $got != "$size" ]]; then
		if grep -q "\"$key\"" "$src/manifest.json"; then
			say "WARNING: file $key was already missing when the backup was made"
		else
			say "file $key: $got bytes, the database says $size"
			bad=$((bad + 1))
		fi
	fi
done <"$work/live"
((bad == 0)) || die "$bad stored file(s) do not match the database"
counts=$("${PSQL[@]}" -c "SELECT format('%s users, %s chats, %s messages, %s files; %s of %s migrations were in the backup',
	(SELECT count(*) FROM public.users), (SELECT count(*) FROM public.chats),
	(SELECT count(*) FROM public.messages), (SELECT count(*) FROM public.files WHERE deleted_at IS NULL),
	$before, (SELECT count(*) FROM public.schema_migrations))")

as_user "$PGBIN/pg_ctl" -D "$VAR/pg" -m fast -w stop >/dev/null </dev/null
started_pg=0
say "restored $FROM into $VAR: $counts"
if ((in_store)); then
	say "the files are in the object store $(sed -n 's/^  "storage": "\(.*\)",$/\1/p' "$src/manifest.json"):" \
		"start the stack with that MSGR_STORAGE_URL (store-keys lists the $(wc -l <"$src/store-keys") keys its database refers to)"
fi
say "start it with: VAR=$VAR scripts/stack.sh start"

#!/usr/bin/env bash
# migrate.sh - bring a database to the current schema.
#
#   VAR=/path/to/state scripts/migrate.sh            # the local stack (scripts/stack.sh)
#   PGHOST=/run/postgresql PGUSER=postgres scripts/migrate.sh   # any other server
#
# Connects as a superuser with libpq's environment (PGHOST, PGPORT, PGUSER,
# PGDATABASE, default database "messenger"; with VAR set and PGHOST unset, the
# socket in $VAR/run). Idempotent, and safe to run from several hosts at once:
#
#  1. creates the application role (MSGR_APP_ROLE, default msgr_app: LOGIN,
#     not a superuser, statement_timeout 5s, idle_in_transaction_session_timeout
#     10s) and the database when they are missing;
#  2. makes whatever the migrating role creates usable by the application role
#     (default privileges);
#  3. in one transaction, under an advisory lock so that concurrent runs take
#     turns: applies schema/migrations/NNN_name.sql in lexical order, each
#     once (its row in schema_migrations: version = "NNN_name"), then every
#     schema/functions/*.sql, every time (CREATE OR REPLACE: the current text
#     of every function), then schema/check_functions.sql, which refuses
#     functions that would not work with an empty search_path, functions
#     that no functions file defines, and invalid bodies (schema/README.md);
#  4. grants the application role its rights on everything that exists.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
schema_dir=${SCHEMA_DIR:-$top/schema} # migrations/, functions/, check_functions.sql
export PGDATABASE=${PGDATABASE:-messenger}
if [[ -z ${PGHOST:-} && -n ${VAR:-} ]]; then
	export PGHOST=$VAR/run
fi
app_role=${MSGR_APP_ROLE:-msgr_app}

if [[ -z ${PSQL:-} ]]; then
	PSQL=psql
	[[ -x /usr/lib/postgresql/15/bin/psql ]] && PSQL=/usr/lib/postgresql/15/bin/psql
fi

export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

psql_run() {
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -v app_role="$app_role" -v db="$PGDATABASE" "$@"
}

# 1. The role and the database, from the maintenance database.
psql_run -o /dev/null -d postgres <<'SQL'
SELECT pg_advisory_lock(hashtext('messenger migrate bootstrap'));
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') AS need_role \gset
\if :need_role
CREATE ROLE :"app_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
\endif
ALTER ROLE :"app_role" SET statement_timeout = '5s';
ALTER ROLE :"app_role" SET idle_in_transaction_session_timeout = '10s';
SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') AS need_db \gset
\if :need_db
CREATE DATABASE :"db" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8';
\endif
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app_role";
SQL

# 2. Default privileges for what this role creates from now on, and the
# bookkeeping table (hidden from the application).
psql_run -o /dev/null --single-transaction -f - <<'SQL'
SELECT pg_advisory_xact_lock(hashtext('messenger schema_migrations'));
ALTER DEFAULT PRIVILEGES GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_role";
ALTER DEFAULT PRIVILEGES GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO :"app_role";
ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO :"app_role";
CREATE TABLE IF NOT EXISTS schema_migrations (
	version text PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON schema_migrations FROM :"app_role";
SQL

# 3. The migrations not applied yet, then the functions, in one transaction:
# the programs never see tables of one version with functions of another.
# The script is built here; psql reads the files with \i from the schema
# directory (names checked below: no quoting issues).
applied=$(psql_run -At -c 'SELECT version FROM schema_migrations')
shopt -s nullglob
export LC_ALL=C # lexical order of the globs
script=$(mktemp)
trap 'rm -f "$script"' EXIT
echo "SELECT pg_advisory_xact_lock(hashtext('messenger schema_migrations'));" >"$script"
pending=0
for file in "$schema_dir"/migrations/*.sql; do
	name=$(basename "$file" .sql)
	if [[ ! $name =~ ^[0-9]{3}_[a-z0-9_]+$ ]]; then
		echo "migrate: skipping $file: migrations are named NNN_name.sql" >&2
		continue
	fi
	if grep -qx -- "$name" <<<"$applied"; then
		continue
	fi
	if grep -qiE '^[[:space:]]*(BEGIN|COMMIT|ROLLBACK|START[[:space:]]+TRANSACTION)[[:space:]]*;' "$file"; then
		echo "migrate: $file controls transactions itself; migrate.sh runs the migrations in one transaction" >&2
		exit 1
	fi
	# Under the lock, look again: another run may have applied it meanwhile.
	cat >>"$script" <<SQL
SELECT EXISTS (SELECT FROM schema_migrations WHERE version = '$name') AS already \gset
\if :already
\else
\warn migrate: applying $name
\i migrations/$name.sql
INSERT INTO schema_migrations (version) VALUES ('$name');
\endif
SQL
	pending=$((pending + 1))
done
# Function bodies are checked once all of them exist (check_functions.sql):
# a body may call a function of a file that comes later.
echo "SET LOCAL check_function_bodies = off;" >>"$script"
for file in "$schema_dir"/functions/*.sql; do
	name=$(basename "$file")
	if [[ ! $name =~ ^[a-z0-9_]+\.sql$ ]]; then
		echo "migrate: $file: functions files are named domain.sql" >&2
		exit 1
	fi
	printf '\\i functions/%s\n' "$name" >>"$script"
done
printf 'SET LOCAL check_function_bodies = on;\n\\i check_functions.sql\n' >>"$script"
(cd "$schema_dir" && psql_run -o /dev/null --single-transaction -f "$script")
if ((pending)); then
	echo "migrate: applied $pending migration(s)" >&2
fi

# 4. Rights on everything that exists, in every schema of this database.
psql_run -o /dev/null --single-transaction -f - <<'SQL'
SELECT set_config('msgr.app_role', :'app_role', true);
DO $$
DECLARE
	r text := current_setting('msgr.app_role');
	s text;
BEGIN
	FOR s IN SELECT nspname FROM pg_namespace
		 WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
	LOOP
		EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, r);
		EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', s, r);
		EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO %I', s, r);
		EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I', s, r);
	END LOOP;
END
$$;
REVOKE ALL ON schema_migrations FROM :"app_role";
SQL

"""schema/ and scripts/migrate.sh (schema/README.md): a database made by the
migrations of before schema/functions/ upgrades to the same schema as a
fresh one; check_functions.sql refuses what it must; every function works
with an empty search_path.

The databases are made beside the stack's own, in its cluster."""

import os
import re
import shutil
import subprocess
import tarfile
import io
import uuid

import psycopg2
import pytest

from helpers import REPO

# main before schema/ was split into migrations/ and functions/.
OLD_COMMIT = "1a349f6"
PGBIN = "/usr/lib/postgresql/15/bin"


def _env(stack, db):
    env = dict(os.environ)
    env.update(PGHOST=str(stack.var / "run"), PGUSER=stack.db_superuser, PGDATABASE=db)
    env.pop("VAR", None)
    return env


def migrate(stack, db, script=REPO / "scripts" / "migrate.sh", schema_dir=None, check=True):
    env = _env(stack, db)
    if schema_dir is not None:
        env["SCHEMA_DIR"] = str(schema_dir)
    proc = subprocess.run([str(script)], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, f"{script} on {db}:\n{proc.stderr}"
    return proc


def schema_dump(stack, db):
    out = subprocess.run([f"{PGBIN}/pg_dump", "--schema-only", "-d", db], env=_env(stack, db),
                         capture_output=True, text=True, check=True, timeout=120).stdout
    # pg_dump's \restrict key is new with every run.
    return "\n".join(l for l in out.splitlines() if not re.match(r"\\(un)?restrict ", l))


def functions_of(stack, db):
    """Each function's signature and attributes, its body aside."""
    conn = psycopg2.connect(host=str(stack.var / "run"), dbname=db, user=stack.db_superuser)
    try:
        with conn.cursor() as cur:
            cur.execute(
                """SELECT p.oid::regprocedure::text, pg_get_function_result(p.oid),
                          l.lanname, p.prokind, p.provolatile, p.proparallel, p.proisstrict,
                          p.prosecdef, p.proleakproof, p.procost, p.prorows, p.proconfig,
                          pg_get_function_arguments(p.oid)
                   FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
                   WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1""")
            return cur.fetchall()
    finally:
        conn.close()


def without_functions(dump):
    """The dump's entries other than functions' (order aside)."""
    entries = dump.split("\n--\n-- Name: ")
    return sorted(e for e in entries if "; Type: FUNCTION;" not in e.split("\n", 1)[0])


@pytest.fixture(scope="module")
def databases(stack):
    """{"fresh", "old", "upgraded"}: database names, dropped at the end."""
    if not stack.local:
        pytest.skip("needs the local stack")
    tag = uuid.uuid4().hex[:8]
    names = {k: f"msgr_{k}_{tag}" for k in ("fresh", "old", "upgraded")}
    yield names
    for db in names.values():
        stack.psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture(scope="module")
def old_tree(tmp_path_factory):
    """schema/ and scripts/migrate.sh as they were at OLD_COMMIT."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    proc = subprocess.run(["git", "-C", str(REPO), "archive", OLD_COMMIT, "schema", "scripts/migrate.sh"],
                          capture_output=True, timeout=60)
    if proc.returncode != 0:
        pytest.skip(f"needs the history of {OLD_COMMIT}: {proc.stderr.decode(errors='replace')}")
    root = tmp_path_factory.mktemp("old")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(root)
    return root


def test_an_old_database_upgrades_to_the_fresh_schema(stack, databases, old_tree):
    migrate(stack, databases["fresh"])
    migrate(stack, databases["upgraded"], script=old_tree / "scripts" / "migrate.sh")
    migrate(stack, databases["old"], script=old_tree / "scripts" / "migrate.sh")
    migrate(stack, databases["upgraded"])
    fresh = schema_dump(stack, databases["fresh"])
    assert schema_dump(stack, databases["upgraded"]) == fresh
    # And a second run changes nothing.
    migrate(stack, databases["upgraded"])
    assert schema_dump(stack, databases["upgraded"]) == fresh

    # Against the old schema itself: the split into migrations/ and
    # functions/ changed only bodies (qualified names). The migrations
    # written since change the schema on purpose, so the comparison is of
    # the old database brought up to the split's last migration by the
    # migrations alone: the same tables, indexes, triggers, types, grants.
    old = schema_dump(stack, databases["old"])
    old_names = {p.stem for p in (old_tree / "schema").glob("[0-9][0-9][0-9]_*.sql")}
    later = sorted(p.stem for p in (REPO / "schema" / "migrations").glob("[0-9][0-9][0-9]_*.sql")
                   if p.stem not in old_names)
    if later:
        # (migrations since the split: compared through the upgrade above)
        return
    assert without_functions(old) == without_functions(fresh)
    assert functions_of(stack, databases["old"]) == functions_of(stack, databases["fresh"])


def test_migrations_are_recorded_by_their_old_names(stack, databases):
    migrate(stack, databases["fresh"])
    files = sorted(p.stem for p in (REPO / "schema" / "migrations").glob("[0-9][0-9][0-9]_*.sql"))
    conn = psycopg2.connect(host=str(stack.var / "run"), dbname=databases["fresh"],
                            user=stack.db_superuser)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT version FROM schema_migrations ORDER BY 1")
            assert [r[0] for r in cur.fetchall()] == files
    finally:
        conn.close()


BAD = {
    "a plpgsql body naming a table without public.": (
        "CREATE OR REPLACE FUNCTION zz_bad() RETURNS bigint LANGUAGE plpgsql AS $$\n"
        "BEGIN RETURN (SELECT count(*) FROM messages); END $$;",
        "zz_bad(): names messages without"),
    "a plpgsql body calling our function without public.": (
        "CREATE OR REPLACE FUNCTION zz_bad() RETURNS boolean LANGUAGE plpgsql AS $$\n"
        "BEGIN RETURN is_member(1, 1); END $$;",
        "zz_bad(): names is_member without"),
    "a sequence named in a literal": (
        "CREATE OR REPLACE FUNCTION zz_bad() RETURNS bigint LANGUAGE plpgsql AS $$\n"
        "BEGIN RETURN nextval('events_id_seq'); END $$;",
        "zz_bad(): names sequence events_id_seq"),
    "a LANGUAGE sql body that does not compile with an empty search_path": (
        "CREATE OR REPLACE FUNCTION zz_bad() RETURNS bigint LANGUAGE sql AS $$\n"
        "SELECT count(*) FROM users $$;",
        'relation "users" does not exist'),
    "a declaration of an unqualified type": (
        "CREATE OR REPLACE FUNCTION zz_bad() RETURNS int LANGUAGE plpgsql AS $$\n"
        "DECLARE m messages; BEGIN RETURN 1; END $$;",
        'type "messages" does not exist'),
    "a generated column's quoted body calling ours (pg_dump cannot order it)": (
        "CREATE OR REPLACE FUNCTION message_tsv(t text) RETURNS tsvector\n"
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$\n"
        "SELECT to_tsvector('simple', t) || array_to_tsvector(public.search_symbols(t)) $$;",
        "message_tsv(text): a table or index computes with it"),
    "a body that does not compile": (
        "CREATE OR REPLACE FUNCTION zz_bad() RETURNS int LANGUAGE plpgsql AS $$\n"
        "BEGIN RETURN 1 END $$;",
        "zz_bad(): syntax error"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_check_functions_refuses(stack, databases, tmp_path, case):
    migrate(stack, databases["fresh"])
    body, said = BAD[case]
    schema = tmp_path / "schema"
    shutil.copytree(REPO / "schema", schema)
    (schema / "functions" / "zz_bad.sql").write_text(body + "\n")
    proc = migrate(stack, databases["fresh"], schema_dir=schema, check=False)
    assert proc.returncode != 0, case
    assert said in proc.stderr, proc.stderr
    # All or nothing: the run left no trace.
    migrate(stack, databases["fresh"])


def test_check_functions_refuses_a_function_no_file_defines(stack, databases):
    migrate(stack, databases["fresh"])
    conn = psycopg2.connect(host=str(stack.var / "run"), dbname=databases["fresh"],
                            user=stack.db_superuser)
    conn.autocommit = True
    try:
        conn.cursor().execute("CREATE FUNCTION zz_orphan() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        proc = migrate(stack, databases["fresh"], check=False)
        assert proc.returncode != 0
        assert "zz_orphan(): no file of schema/functions/ defines it" in proc.stderr
        conn.cursor().execute("DROP FUNCTION zz_orphan()")
        migrate(stack, databases["fresh"])
    finally:
        conn.close()


def test_functions_work_with_an_empty_search_path(stack, databases):
    """The requests' functions, called as a restore or another client with
    search_path = '' would, in a transaction rolled back at the end."""
    migrate(stack, databases["fresh"])
    conn = psycopg2.connect(host=str(stack.var / "run"), dbname=databases["fresh"],
                            user=stack.db_superuser)
    try:
        cur = conn.cursor()
        cur.execute("SET LOCAL search_path = ''")
        cur.execute("SET LOCAL msgr.secret = 'abcd'")

        def one(sql, *params):
            cur.execute(sql, params or None)
            return cur.fetchone()

        def reply(sql, *params):
            status, body, _ = one(f"SELECT (r).* FROM (SELECT {sql} AS r) s", *params)
            assert status in (200, 201, 204), (sql, status, body)
            return body

        alice, alice_sid = one("SELECT r.usr->'id', r.sid FROM public.register_user('sp_alice', 'a@sp.test', "
                               "'h', 'Alice', 'ta', 60, 'ua', '127.0.0.1') r")
        bob = one("SELECT r.usr FROM public.register_user('sp_bob', 'b@sp.test', 'h', 'Bob', 'tb', 60, "
                  "'ua', '127.0.0.1') r")[0]["id"]
        assert one("SELECT user_id, session_id FROM public.session_rotate('ta', 'ta2', 60)") == (alice, alice_sid)
        assert one("SELECT public.live_session_user(%s, %s)", alice, alice_sid)[0] == alice
        assert one("SELECT public.session_live(%s, NULL)", bob)[0] is True
        assert reply("public.sessions_list(%s, %s)", alice, alice_sid)["sessions"][0]["current"] is True
        bob_sid = one("SELECT public.session_open(%s, 'tb2', 60, 'ua', '127.0.0.2')", bob)[0]
        reply("public.session_delete(%s, %s)", bob, bob_sid)
        reply("public.password_change(%s, %s, 'h', 'h2')", bob, None)
        one("SELECT public.login_failed('sp_alice', '127.0.0.9', 60)")
        one("SELECT public.login_throttle('sp_alice', '127.0.0.9', 5, 30, 60)")
        direct = reply("public.chat_create_direct(%s, %s)", alice, bob)["id"]
        group = reply("public.chat_create_group(%s, 'g', ARRAY[%s]::bigint[])", alice, bob)["id"]
        reply("public.chat_rename(%s, %s, 'g2')", alice, group)
        sent = reply("public.message_send(%s, %s, 'hello 🎉 world', false, 'c1', NULL, 10, 0, 10)",
                     alice, direct)
        batch = one("SELECT count(*) FROM public.message_send_batch(ARRAY[%s, %s]::bigint[], "
                    "ARRAY[%s, %s]::bigint[], ARRAY['one', 'two'], ARRAY['b1', NULL], "
                    "ARRAY[NULL, %s]::bigint[], 0, 10)",
                    bob, alice, direct, group, alice_sid)[0]
        assert batch == 2
        file_id = one("SELECT id FROM public.files_add(%s, 'upload', ARRAY['a.txt'], ARRAY[3]::bigint[], "
                      "ARRAY['text/plain'], ARRAY[%s])", alice, "0" * 32)[0]
        with_file = reply("public.message_send(%s, %s, '', true, NULL, ARRAY[%s]::bigint[], 10, 0, 10)",
                          alice, group, file_id)
        assert with_file["attachments"][0]["url"].startswith("/api/files/")
        reply("public.message_react(%s, %s, '👍', true, 0, 10)", bob, sent["id"])
        reply("public.message_edit(%s, %s, 'hello again 🎉', false, 0, 10)", alice, sent["id"])
        reply("public.chat_read(%s, %s, %s)", bob, direct, sent["id"])
        one("SELECT public.wsd_mark_delivered(ARRAY[%s]::bigint[], ARRAY[%s]::bigint[], ARRAY[%s]::bigint[])",
            alice, group, with_file["id"])
        page = reply("public.chat_messages(%s, %s, NULL, NULL, 50)", bob, direct)
        assert [m["text"] for m in page["messages"]][-2:] == ["hello again 🎉", "one"]
        assert reply("public.chat_list(%s)", alice)["chats"]
        reply("public.chat_get(%s, %s)", bob, group)
        found = reply("public.search_messages(%s, '🎉', NULL, NULL, 20)", bob)["messages"]
        assert [m["id"] for m in found] == [sent["id"]]
        one("SELECT * FROM public.file_for_download(%s, %s, false)", file_id, bob)
        pic = one("SELECT f.id FROM public.files_add(%s, 'avatar', ARRAY['p.png'], ARRAY[3]::bigint[], "
                  "ARRAY['image/png'], ARRAY[%s]) f", alice, "1" * 32)[0]
        one("SELECT * FROM public.avatar_use(%s, %s)", alice, pic)
        one("SELECT * FROM public.clear_avatar(%s)", alice)
        reply("public.message_delete(%s, %s)", alice, with_file["id"])
        reply("public.chat_add_member(%s, %s, %s)", alice, group,
              one("SELECT r.usr FROM public.register_user('sp_carol', 'c@sp.test', 'h', 'Carol', 'tc', 60, "
                  "'ua', '127.0.0.1') r")[0]["id"])
        reply("public.chat_remove_member(%s, %s, %s)", alice, group, alice)
        one("SELECT public.wsd_start('sp', 1, 30)")
        one("SELECT public.wsd_presence_batch('sp', ARRAY[%s, %s]::bigint[], ARRAY[true, false])", bob, bob)
        one("SELECT public.wsd_heartbeat('sp', 1, 30)")
        one("SELECT public.wsd_stop('sp')")
        one("SELECT public.prune_events('0 seconds')")
        one("SELECT public.session_close('ta2')")
        one("SELECT public.user_sessions_end_all(%s)", bob)
        cur.execute("DELETE FROM public.chats WHERE id = %s", (group,))
    finally:
        conn.rollback()
        conn.close()

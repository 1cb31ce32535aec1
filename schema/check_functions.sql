-- check_functions.sql - run by scripts/migrate.sh after the functions files,
-- in the same transaction: an error here rolls the whole run back.
--
-- Every function of schema public (extensions' own aside) must
--  1. have been (re)defined by a functions file in this transaction, and not
--     be a migration's declaration still (schema/README.md): a function that
--     no file defines any more needs a DROP FUNCTION in a migration;
--  2. compile: the files were applied with check_function_bodies off, so
--     that a body may call a function of a file applied later;
--  3. work with an empty search_path, as a restore of pg_dump's output and
--     any caller with another search_path run it. A function without a SET
--     search_path of its own is compiled with search_path = '' (a LANGUAGE
--     sql body fails on any unqualified name of ours; plpgsql resolves names
--     only when a statement runs, so its declarations fail there), and its
--     body is scanned for our relations, types and sequences named without
--     "public." and our functions called without it;
--  4. be restorable in the order pg_dump gives: a LANGUAGE sql function that
--     a table or an index computes with (a generated column, an index
--     expression, a default, a CHECK) is inlined when a restore creates the
--     table, and pg_dump orders objects by the dependencies the database
--     recorded, which a quoted body ($$...$$) has none of. Such a function
--     calls ours only from a SQL-standard body (RETURN ..., BEGIN ATOMIC).
DO $check$
DECLARE
	f record;
	problems text[] := '{}';
	src text;
	word text;
	saved_path text := current_setting('search_path');
	this_xact text := (txid_current() % 4294967296)::text;
BEGIN
	CREATE TEMP TABLE check_names ON COMMIT DROP AS
		SELECT c.relname::text AS name, c.relkind = 'S' AS is_sequence, false AS is_function
		FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
		UNION
		SELECT t.typname, false, false FROM pg_type t
		WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('c', 'd', 'e', 'r')
		  AND t.typcategory <> 'A'
		UNION
		SELECT p.proname, false, true FROM pg_proc p
		WHERE p.pronamespace = 'public'::regnamespace;

	FOR f IN
		SELECT p.oid, p.oid::regprocedure::text AS sig, p.prosrc, p.xmin::text AS xmin,
		       p.prosqlbody IS NULL AND EXISTS (
			SELECT FROM pg_depend d
			WHERE d.refclassid = 'pg_proc'::regclass AND d.refobjid = p.oid
			  AND d.classid IN ('pg_attrdef'::regclass, 'pg_class'::regclass,
					    'pg_constraint'::regclass)) AS in_ddl,
		       l.lanname, l.lanvalidator,
		       (SELECT substr(s, length('search_path=') + 1) FROM unnest(p.proconfig) s
			WHERE s LIKE 'search_path=%') AS own_path
		FROM pg_proc p
		JOIN pg_language l ON l.oid = p.prolang
		WHERE p.pronamespace = 'public'::regnamespace
		  AND NOT EXISTS (SELECT FROM pg_depend d
				  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
				    AND d.deptype = 'e')
		ORDER BY 2
	LOOP
		IF f.xmin <> this_xact OR f.prosrc LIKE '%declared by a migration%' THEN
			problems := problems || format('%s: no file of schema/functions/ defines it', f.sig);
			CONTINUE;
		END IF;

		PERFORM set_config('search_path', coalesce(f.own_path, ''), true);
		BEGIN
			IF f.lanvalidator <> 0 THEN
				EXECUTE format('SELECT %s(%s)', f.lanvalidator::regproc, f.oid);
			END IF;
		EXCEPTION WHEN OTHERS THEN
			problems := problems || format('%s: %s (search_path %L)', f.sig, SQLERRM,
						       coalesce(f.own_path, ''));
		END;
		PERFORM set_config('search_path', saved_path, true);

		IF f.in_ddl AND f.lanname = 'sql' THEN
			FOR word IN
				SELECT n.name FROM check_names n
				WHERE n.is_function AND f.prosrc ~ ('(?<![[:alnum:]_$"])' || n.name || '\s*\(')
				ORDER BY 1
			LOOP
				problems := problems || format('%s: a table or index computes with it, and its '
					'quoted body calls %s: pg_dump may create it first', f.sig, word);
			END LOOP;
		END IF;

		CONTINUE WHEN f.own_path IS NOT NULL OR f.lanname NOT IN ('sql', 'plpgsql');
		-- Comments go; a sequence may be named in a literal (nextval('x'));
		-- then the other literals go.
		src := regexp_replace(f.prosrc, '--[^\n]*', '', 'g');
		src := regexp_replace(src, '/\*.*?\*/', '', 'g');
		FOR word IN
			SELECT DISTINCT n.name FROM check_names n
			WHERE n.is_sequence AND src ~ ('''' || n.name || '''')
		LOOP
			problems := problems || format('%s: names sequence %s without "public."', f.sig, word);
		END LOOP;
		src := regexp_replace(src, '''(?:[^'']|'''')*''', '''''', 'g');
		-- Not after a dot (qualified), not before one (an alias or a
		-- transition table's column: events.id); functions before "(".
		FOR word IN
			SELECT DISTINCT n.name FROM check_names n
			WHERE src ~ ('(?<![[:alnum:]_$."])' || n.name
				     || CASE WHEN n.is_function THEN '\s*\('
					ELSE '(?![[:alnum:]_$"])(?!\s*\.)' END)
			ORDER BY 1
		LOOP
			problems := problems || format('%s: names %s without "public."', f.sig, word);
		END LOOP;
	END LOOP;

	IF cardinality(problems) > 0 THEN
		RAISE EXCEPTION 'schema/check_functions.sql: % problem(s)', cardinality(problems)
			USING DETAIL = array_to_string(problems, E'\n'),
			      HINT = 'see schema/README.md';
	END IF;
END
$check$;

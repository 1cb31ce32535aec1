-- GET /api/users?q=&limit=20: fcgi/auth/users.c, handle_search_users
-- (statement search_users, verbatim). Variables: uid_lo, uid_hi (callers),
-- q (bench/run.py makes one copy of this script per search string),
-- limit.
\set uid random(:uid_lo, :uid_hi)
WITH q AS (SELECT replace(replace(replace(lower(:q), '\', '\\'), '%', '\%'), '_', '\_') AS pat), found AS (SELECT u AS usr, u.username, u.username LIKE q.pat || '%' AS prefix FROM users u, q WHERE u.id <> :uid AND (u.username LIKE q.pat || '%' OR lower(u.display_name) LIKE '%' || q.pat || '%') ORDER BY prefix DESC, u.username LIMIT :limit::int) SELECT jsonb_build_object('users', coalesce(jsonb_agg(user_json(usr) ORDER BY prefix DESC, username), '[]'::jsonb)) FROM found;

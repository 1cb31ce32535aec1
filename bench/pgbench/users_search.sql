-- GET /api/users?q=&limit=20: fcgi/auth/users.c, handle_search_users
-- (statement search_users: user_search(), without live_session_user()).
-- Variables: uid_lo, uid_hi (callers), q (bench/run.py makes one copy of
-- this script per search string), limit.
\set uid random(:uid_lo, :uid_hi)
SELECT user_search(:uid, :q, :limit::int);

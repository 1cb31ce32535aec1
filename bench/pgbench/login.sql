-- POST /api/auth/login with the right password: fcgi/auth/accounts.c,
-- statements find_login and session_open (the scrypt check between them
-- is the program's, not the database's). Variables: login and uid (one
-- copy of this script per user), max_user, max_addr, window, ttl.
SELECT login_throttle(:login, '127.0.0.1', :max_user::int, :max_addr::int, :window::int), u.id, u.password_hash FROM (SELECT 1) one LEFT JOIN users u ON u.username = lower(:login) OR lower(u.email) = lower(:login);
WITH forget AS (DELETE FROM login_failures WHERE scope = 'user' AND key = lower(:login)) SELECT session_open(:uid::bigint, encode(sha256(random()::text::bytea), 'hex'), :ttl::int, 'pgbench', '127.0.0.1');

-- PUT /api/users/me/avatar stores the picture before the user points at it
-- (fcgi/files/avatar.c): set_avatar() became files_add() and avatar_use().
DROP FUNCTION IF EXISTS set_avatar(bigint, text[], bigint[], text[], text[]);

-- The end of an account (migrations/025_account_deletion.sql): DELETE
-- /api/users/me (fcgi/auth/account.c), DELETE /api/admin/users/{id} and
-- `msgrctl user delete`, which all come down to account_delete().

-- How long the names of a deleted account stay reserved (README "Deleting
-- an account").
CREATE OR REPLACE FUNCTION account_grace() RETURNS interval
LANGUAGE sql IMMUTABLE AS $$ SELECT interval '30 days' $$;

-- Whether a registration may not take the username or the e-mail: a
-- deleted account's, within its grace.
CREATE OR REPLACE FUNCTION account_name_reserved(p_username text, p_email text) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM public.account_reservations
		       WHERE until > now()
			 AND (username = p_username OR lower(email) = lower(p_email)))
$$;

-- Deletes the account p_user in the caller's transaction; returns the
-- last event for wsd's wake-up. 404 when there is none (or it is deleted
-- already). What goes and what stays, in this order:
--  - its username and e-mail are reserved (account_reservations) and the
--    row takes the deleted look: "Deleted account", no about, no avatar,
--    no e-mail, no password, username "deleted-" and its id. The row
--    stays: the messages it sent stay in the others' conversations (as
--    Telegram keeps them), shown as from "Deleted account", and nothing
--    that refers to it breaks. The update fires users_changed(): everyone
--    who shares a chat with it gets user.updated with the deleted look;
--  - every session ends, and wsd closes its sockets with 4401;
--  - its avatar and its uploads attached to no message are marked
--    deleted, for the caller to purge after the commit (storage_purge());
--    its files in messages stay with them;
--  - it leaves every group as a member leaving does (chat_remove_member():
--    the service message, member.removed, an owner's handover); a group
--    of which it is the only member is deleted (chat_delete());
--  - its blocks, settings, digest state, exports and unused reset tokens go.
-- Direct chats keep it as a member: the other one keeps the conversation,
-- and can no longer write into it (403 user_deleted).
-- Chats and messages are locked in id order, as every path does.
CREATE OR REPLACE FUNCTION account_delete(p_user bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	u public.users;
	g bigint;
	ev bigint;
	r public.api_reply;
BEGIN
	SELECT * INTO u FROM public.users WHERE id = p_user FOR UPDATE;
	IF NOT FOUND OR u.status = 'deleted' THEN
		PERFORM public.api_error(404, 'user_not_found', 'no such user');
	END IF;
	INSERT INTO public.account_reservations (user_id, username, email, until)
	VALUES (u.id, u.username, u.email, now() + public.account_grace())
	ON CONFLICT (user_id) DO NOTHING;
	UPDATE public.files SET deleted_at = now()
	WHERE uploader_id = u.id AND message_id IS NULL AND deleted_at IS NULL;
	UPDATE public.users
	SET status = 'deleted', deleted_at = now(), role = 'user',
	    username = 'deleted-' || u.id, email = NULL, password_hash = '!',
	    display_name = 'Deleted account', about = '', avatar_file_id = NULL
	WHERE id = u.id;
	PERFORM public.user_sessions_end_all(u.id);
	FOR g IN SELECT cm.chat_id FROM public.chat_members cm
		 JOIN public.chats c ON c.id = cm.chat_id AND c.type = 'group'
		 WHERE cm.user_id = u.id ORDER BY cm.chat_id
	LOOP
		IF EXISTS (SELECT 1 FROM public.chat_members
			   WHERE chat_id = g AND user_id <> u.id) THEN
			r := public.chat_remove_member(u.id, g, u.id);
		ELSE
			r := public.chat_delete(u.id, g);
		END IF;
		ev := coalesce(r.event_id, ev);
	END LOOP;
	DELETE FROM public.user_blocks WHERE blocker_id = u.id OR blocked_id = u.id;
	-- Nobody writes to it any more: it blocks the other member of each of
	-- its direct chats, which send_blocked_check() answers 403
	-- user_deleted.
	INSERT INTO public.user_blocks (blocked_id, blocker_id)
	SELECT o.user_id, u.id FROM public.chat_members me
	JOIN public.chats c ON c.id = me.chat_id AND c.type = 'direct'
	JOIN public.chat_members o ON o.chat_id = me.chat_id AND o.user_id <> u.id
	WHERE me.user_id = u.id
	ON CONFLICT DO NOTHING;
	DELETE FROM public.user_settings WHERE user_id = u.id;
	DELETE FROM public.mail_digests WHERE user_id = u.id;
	-- Its exports: their archives were marked deleted above (uploads of
	-- its own attached to nothing).
	DELETE FROM public.exports WHERE user_id = u.id;
	UPDATE public.password_resets SET used_at = now() WHERE user_id = u.id AND used_at IS NULL;
	RETURN ev;
END
$$;

-- DELETE /api/users/me {password}, after the C side checked the password
-- against p_hash: deletes the caller's account unless the password
-- changed meanwhile (409, as password_change() does).
CREATE OR REPLACE FUNCTION account_delete_self(p_user bigint, p_hash text) RETURNS api_reply
LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM public.users WHERE id = p_user AND password_hash = p_hash) THEN
		PERFORM public.api_error(409, 'password_changed',
			'the password was changed meanwhile; try again');
	END IF;
	RETURN (204, NULL, public.account_delete(p_user))::public.api_reply;
END
$$;

-- DELETE /api/admin/users/{id} and `msgrctl user delete` (p_admin NULL):
-- another user's account, recorded in the audit log. An administrator's
-- own goes through DELETE /api/users/me, with the password.
CREATE OR REPLACE FUNCTION admin_user_delete(p_admin bigint, p_actor text, p_target bigint)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	u public.users;
	ev bigint;
BEGIN
	SELECT * INTO u FROM public.users WHERE id = p_target;
	IF NOT FOUND OR u.status = 'deleted' THEN
		PERFORM public.api_error(404, 'user_not_found', 'no such user');
	END IF;
	IF u.id = p_admin THEN
		PERFORM public.api_error(409, 'cannot_delete_self',
			'delete your own account from your profile, with your password');
	END IF;
	ev := public.account_delete(u.id);
	PERFORM public.admin_audit_add(p_admin, p_actor, 'user.delete',
		jsonb_build_object('user_id', u.id, 'username', u.username));
	RETURN (204, NULL, ev)::public.api_reply;
END
$$;

-- Forgets the reservations past their grace (the auth program's periodic
-- job): the names are free again. Returns how many.
CREATE OR REPLACE FUNCTION account_reservations_release() RETURNS bigint
LANGUAGE sql AS $$
	WITH d AS (DELETE FROM public.account_reservations WHERE until <= now() RETURNING 1)
	SELECT count(*) FROM d
$$;

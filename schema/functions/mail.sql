-- The mail outbox (migrations/020_mail.sql) and its mailer
-- (mailer/main.c).

-- Queues one mail; the mailer hears of it at the commit (NOTIFY msgr_mail)
-- rather than at its next poll.
CREATE OR REPLACE FUNCTION mail_enqueue(p_to text, p_subject text, p_text text, p_html text)
RETURNS bigint LANGUAGE sql AS $$
	SELECT public.mail_enqueue(p_to, p_subject, p_text, p_html, '{}'::jsonb)
$$;

-- The oldest due unsent mail, locked for this transaction; none when every
-- due one is another mailer's right now (SKIP LOCKED: that one is being
-- sent, and waiting for it would only send it twice). The Message-ID is
-- the row's, so a mail sent again after a crash has the one it had.
CREATE OR REPLACE FUNCTION mail_claim()
RETURNS TABLE (id bigint, to_addr text, subject text, body_text text, body_html text,
	       created bigint, attempts int)
LANGUAGE sql AS $$
	SELECT o.id, o.to_addr, o.subject, o.body_text, o.body_html,
	       extract(epoch FROM o.created_at)::bigint, o.attempts
	FROM public.mail_outbox o
	WHERE o.sent_at IS NULL AND o.next_attempt_at <= now()
	ORDER BY o.next_attempt_at, o.id
	LIMIT 1
	FOR UPDATE SKIP LOCKED
$$;

-- Seconds until the next unsent mail is due (NULL: none): how long the
-- mailer may sleep when no NOTIFY comes.
CREATE OR REPLACE FUNCTION mail_next_due()
RETURNS double precision LANGUAGE sql STABLE AS $$
	SELECT greatest(0, extract(epoch FROM min(next_attempt_at) - now()))::double precision
	FROM public.mail_outbox WHERE sent_at IS NULL
$$;

-- Sent: the bodies go. They may hold a secret (a password reset link,
-- whose token the database otherwise keeps only hashed), and once the mail
-- is the receiver's, keeping them would only make a copy to leak; who was
-- sent what, and when, stays.
CREATE OR REPLACE FUNCTION mail_sent(p_id bigint)
RETURNS void LANGUAGE sql AS $$
	UPDATE public.mail_outbox
	SET sent_at = now(), attempts = attempts + 1, last_error = NULL, body_text = '', body_html = ''
	WHERE id = p_id
$$;

-- A failed attempt: tried again after 1, 2, 4 ... minutes, at most an hour
-- apart; after 24 attempts (about a day) it is given up (sent_at stays
-- NULL, next_attempt_at infinity) and last_error says why.
CREATE OR REPLACE FUNCTION mail_failed(p_id bigint, p_error text)
RETURNS void LANGUAGE sql AS $$
	UPDATE public.mail_outbox
	SET attempts = attempts + 1,
	    last_error = left(p_error, 500),
	    next_attempt_at = CASE WHEN attempts + 1 >= 24 THEN 'infinity'::timestamptz
				   ELSE now() + least(interval '1 hour',
						      interval '1 minute' * power(2, attempts)) END
	WHERE id = p_id
$$;

-- Text as HTML text or attribute value, for the HTML part of a mail.
CREATE OR REPLACE FUNCTION html_escape(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT replace(replace(replace(replace(replace(s, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'),
		       '"', '&quot;'), '''', '&#39;')
$$;

-- Queues one mail with extra header fields (p_headers: name to value, e.g.
-- List-Unsubscribe; the mailer refuses a name or value that would break
-- the header).
CREATE OR REPLACE FUNCTION mail_enqueue(p_to text, p_subject text, p_text text, p_html text,
					p_headers jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint;
BEGIN
	INSERT INTO public.mail_outbox (to_addr, subject, body_text, body_html, headers)
	VALUES (p_to, p_subject, p_text, p_html, coalesce(p_headers, '{}'))
	RETURNING id INTO v_id;
	PERFORM pg_notify('msgr_mail', '');
	RETURN v_id;
END
$$;

-- ---- the notification digest ------------------------------------------------
--
-- API.md "Notifications": a user with an e-mail address and no open
-- WebSocket gets one mail listing the messages of others that stayed unread
-- (and undelivered) for longer than their delay, then none for an hour.
-- The mailer's digest job (mailer/main.c) asks mail_digest_due() whom to
-- look at and calls mail_digest_user() for each, one transaction each.
--
-- Never twice, never skipped: each membership has a watermark,
-- chat_members.mailed_up_to. A message is looked at once, when its delay
-- has run out: it is then listed (allowed, unread, undelivered) or passed
-- over for good (read, delivered, the member's own, a service message,
-- deleted, a blocked sender's, or not allowed by the settings at that
-- moment), and the watermark moves past it. The listing goes into the
-- outbox and the watermarks move in ONE transaction, so a crash anywhere
-- either did both or neither; the outbox then sends the mail exactly once
-- (mailer/main.c says what that means for SMTP). While the user is online,
-- or within the hour after a digest, nothing is looked at and nothing
-- moves: the messages wait for the next digest, or get delivered.
-- A watermark moves only over messages that are past the delay and older
-- (by id) than every message of the chat that is not: ids are given at
-- insert, so a send still uncommitted for a whole delay (a minute at least)
-- is the one thing that could slip under it.

-- The users who may have a digest due, at most p_limit of them: offline,
-- with an address, not mailed within the hour, and with a message past
-- their delay above what they have seen and what was looked at. Each of
-- them makes progress when looked at, so the limit starves nobody.
CREATE OR REPLACE FUNCTION mail_digest_due(p_limit int)
RETURNS SETOF bigint LANGUAGE sql STABLE AS $$
	SELECT DISTINCT m.user_id
	FROM public.chat_members m
	JOIN public.chats c ON c.id = m.chat_id
	JOIN public.users u ON u.id = m.user_id
	WHERE u.email IS NOT NULL
	  AND c.last_message_id > greatest(m.mailed_up_to, m.last_read_message_id,
					   m.last_delivered_message_id, m.cleared_upto)
	  AND NOT EXISTS (SELECT 1 FROM public.user_presence p WHERE p.user_id = m.user_id)
	  AND NOT EXISTS (SELECT 1 FROM public.mail_digests d WHERE d.user_id = m.user_id
			  AND d.last_sent_at > now() - interval '1 hour')
	  AND EXISTS (SELECT 1 FROM public.messages x
		      WHERE x.chat_id = m.chat_id
			AND x.id > greatest(m.mailed_up_to, m.last_read_message_id,
					    m.last_delivered_message_id, m.cleared_upto)
			AND x.created_at <= now() - make_interval(
				mins => (public.user_settings_of(m.user_id)).email_delay_minutes))
	LIMIT p_limit
$$;

-- Looks at p_user's messages past the delay and queues their digest, as
-- the comment above says. p_app_url is the app's public URL (a chat's link
-- is p_app_url/#/c/ID, www/js/ui/app.js's route); p_unsubscribe_url the
-- signed one-click link (the mailer signs it: the secret is not the
-- database's). Returns the outbox id, or NULL when nothing was queued
-- (another mailer is at this user, online, mailed within the hour, or
-- nothing to list).
CREATE OR REPLACE FUNCTION mail_digest_user(p_user bigint, p_app_url text, p_unsubscribe_url text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	c_list_max constant int := 20;
	c_text_max constant int := 200;
	u public.users;
	s public.user_settings;
	v_cutoff timestamptz;
	v_chats bigint[] := '{}';
	v_from bigint[] := '{}';
	v_to bigint[] := '{}';
	v_young bigint;
	v_last bigint;
	v_total int;
	v_senders text[];
	v_lines_text text;
	v_lines_html text;
	v_subject text;
	v_text text;
	v_html text;
	v_mail bigint;
	m record;
	lang text := public.mail_language(p_user);
BEGIN
	-- One job at a time per user: the others skip them. The lock is
	-- taken, and the hour checked, on the row as it is now.
	INSERT INTO public.mail_digests (user_id) VALUES (p_user) ON CONFLICT (user_id) DO NOTHING;
	PERFORM 1 FROM public.mail_digests
	WHERE user_id = p_user AND (last_sent_at IS NULL OR last_sent_at <= now() - interval '1 hour')
	FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT * INTO u FROM public.users WHERE id = p_user;
	IF u.email IS NULL OR EXISTS (SELECT 1 FROM public.user_presence WHERE user_id = p_user) THEN
		RETURN NULL;
	END IF;
	s := public.user_settings_of(p_user);
	v_cutoff := now() - make_interval(mins => s.email_delay_minutes);

	-- Per membership: what is looked at now, (from, to]. From: above the
	-- watermark and what the user has seen; to: the newest message past
	-- the delay below the oldest one that is not.
	FOR m IN
		SELECT cm.chat_id, greatest(cm.mailed_up_to, cm.last_read_message_id,
					    cm.last_delivered_message_id, cm.cleared_upto) AS from_id
		FROM public.chat_members cm JOIN public.chats c ON c.id = cm.chat_id
		WHERE cm.user_id = p_user
		  AND c.last_message_id > greatest(cm.mailed_up_to, cm.last_read_message_id,
						   cm.last_delivered_message_id, cm.cleared_upto)
	LOOP
		SELECT min(x.id) INTO v_young FROM public.messages x
		WHERE x.chat_id = m.chat_id AND x.id > m.from_id AND x.created_at > v_cutoff;
		SELECT max(x.id) INTO v_last FROM public.messages x
		WHERE x.chat_id = m.chat_id AND x.id > m.from_id AND (v_young IS NULL OR x.id < v_young);
		CONTINUE WHEN v_last IS NULL;
		v_chats := v_chats || m.chat_id;
		v_from := v_from || m.from_id;
		v_to := v_to || v_last;
	END LOOP;
	IF cardinality(v_chats) = 0 THEN
		RETURN NULL;
	END IF;

	-- What is listed: others' live text messages that the settings allow.
	-- A mention counts unless the chat's notify is none; anything else
	-- needs "all" in both and the chat not muted.
	WITH listed AS (
		SELECT x.id, x.chat_id, x.text, x.created_at,
		       coalesce(su.display_name, '?') AS sender,
		       CASE WHEN c.type = 'group' THEN c.title END AS title,
		       row_number() OVER (ORDER BY x.created_at, x.id) AS n
		FROM unnest(v_chats, v_from, v_to) AS w(chat_id, from_id, to_id)
		JOIN public.chat_members cm ON cm.chat_id = w.chat_id AND cm.user_id = p_user
		JOIN public.chats c ON c.id = w.chat_id
		JOIN public.messages x ON x.chat_id = w.chat_id AND x.id > w.from_id AND x.id <= w.to_id
		LEFT JOIN public.users su ON su.id = x.sender_id
		WHERE x.kind = 'text' AND x.deleted_at IS NULL
		  AND x.sender_id IS NOT NULL AND x.sender_id <> p_user
		  AND cm.notify <> 'none' AND s.email_notifications <> 'none'
		  AND (p_user = ANY (x.mentions)
		       OR (s.email_notifications = 'all' AND cm.notify = 'all'
			   AND (cm.muted_until IS NULL OR cm.muted_until <= now())))
		  AND NOT EXISTS (SELECT 1 FROM public.user_blocks b
				  WHERE b.blocker_id = p_user AND b.blocked_id = x.sender_id)
	), shown AS (
		SELECT l.*, p_app_url || '/#/c/' || l.chat_id AS link,
		       CASE WHEN l.text = '' THEN public.mail_text(lang, 'digest.attachment')
			    WHEN char_length(l.text) > c_text_max THEN left(l.text, c_text_max) || '…'
			    ELSE l.text END AS excerpt
		FROM listed l WHERE l.n <= c_list_max
	)
	SELECT (SELECT count(*) FROM listed),
	       (SELECT array_agg(sender ORDER BY first) FROM
		 (SELECT sender, min(n) AS first FROM listed GROUP BY sender) f),
	       (SELECT string_agg(CASE WHEN title IS NULL THEN sender ELSE public.mail_text(lang, 'digest.in',
					jsonb_build_object('sender', sender, 'title', title)) END || E':\n'
				  || regexp_replace(excerpt, '^', '  ', 'gn') || E'\n  ' || link,
				  E'\n\n' ORDER BY n) FROM shown),
	       (SELECT string_agg('<p>' || CASE WHEN title IS NULL THEN '<b>' || public.html_escape(sender) || '</b>'
					ELSE public.mail_html(lang, 'digest.in', jsonb_build_object('sender', sender,
						'title', title), '{sender,title}') END
				  || '<br>' || replace(public.html_escape(excerpt), E'\n', '<br>')
				  || '<br><a href="' || public.html_escape(link) || '">'
				  || public.mail_html(lang, 'digest.openChat') || '</a></p>',
				  '' ORDER BY n) FROM shown)
	INTO v_total, v_senders, v_lines_text, v_lines_html;

	IF v_total > 0 THEN
		-- In the user's language (schema/functions/i18n.sql), its plural
		-- forms by the counts.
		v_subject := regexp_replace(public.mail_text(lang, 'digest.subject', jsonb_build_object(
			'n', v_total,
			'senders', CASE cardinality(v_senders) WHEN 1 THEN v_senders[1]
				WHEN 2 THEN public.mail_text(lang, 'digest.senders2',
					jsonb_build_object('a', v_senders[1], 'b', v_senders[2]))
				ELSE public.mail_text(lang, 'digest.sendersMore',
					jsonb_build_object('a', v_senders[1], 'n', cardinality(v_senders) - 1)) END)),
			'[\r\n]+', ' ', 'g');
		v_text := public.mail_text(lang, 'hello', jsonb_build_object('name', u.display_name)) || E'\n\n'
			|| public.mail_text(lang, 'digest.waiting', jsonb_build_object('n', v_total)) || E'\n\n'
			|| v_lines_text || E'\n\n'
			|| CASE WHEN v_total > c_list_max THEN public.mail_text(lang, 'digest.more',
					jsonb_build_object('n', v_total - c_list_max)) || E'\n\n'
				ELSE '' END
			|| public.mail_text(lang, 'digest.openApp') || ': ' || p_app_url || E'/\n\n'
			|| public.mail_text(lang, 'digest.why') || E'\n'
			|| public.mail_text(lang, 'digest.toTurnOff', jsonb_build_object('url', p_unsubscribe_url)) || E'\n'
			|| public.mail_text(lang, 'digest.orProfile') || E'\n';
		v_html := '<p>' || public.mail_html(lang, 'hello', jsonb_build_object('name', u.display_name)) || '</p>'
			|| '<p>' || public.mail_html(lang, 'digest.waiting', jsonb_build_object('n', v_total)) || '</p>'
			|| v_lines_html
			|| CASE WHEN v_total > c_list_max THEN '<p>' || public.mail_html(lang, 'digest.more',
					jsonb_build_object('n', v_total - c_list_max)) || '</p>'
				ELSE '' END
			|| '<p><a href="' || public.html_escape(p_app_url || '/') || '">'
			|| public.mail_html(lang, 'digest.openApp') || '</a></p>'
			|| '<p>' || public.mail_html(lang, 'digest.why') || ' '
			|| '<a href="' || public.html_escape(p_unsubscribe_url) || '">'
			|| public.mail_html(lang, 'digest.turnOff') || '</a> '
			|| public.mail_html(lang, 'digest.orProfile') || '</p>';
		v_mail := public.mail_enqueue(u.email, v_subject, v_text, v_html,
			jsonb_build_object('List-Unsubscribe', '<' || p_unsubscribe_url || '>',
					   'List-Unsubscribe-Post', 'List-Unsubscribe=One-Click'));
		UPDATE public.mail_digests SET last_sent_at = now() WHERE user_id = p_user;
	END IF;
	UPDATE public.chat_members cm SET mailed_up_to = w.to_id
	FROM unnest(v_chats, v_to) AS w(chat_id, to_id)
	WHERE cm.chat_id = w.chat_id AND cm.user_id = p_user AND cm.mailed_up_to < w.to_id;
	RETURN v_mail;
END
$$;

-- One-click unsubscribe (RFC 8058; fcgi/auth/settings.c checked the
-- signed token naming p_user): e-mail notifications off. An account that
-- is gone: the link is as bad as a forged one.
CREATE OR REPLACE FUNCTION mail_unsubscribe(p_user bigint) RETURNS api_reply
LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM public.users WHERE id = p_user) THEN
		PERFORM public.api_error(400, 'invalid_token', 'this unsubscribe link is not valid');
	END IF;
	RETURN public.user_settings_update(p_user, 'none', NULL);
END
$$;

-- ---- pruning ------------------------------------------------------------------
--
-- The mailer's hourly clean-up (mailer/main.c): sent mails p_sent_days
-- after they went (the row says who was sent what subject, and when: worth
-- a while for questions, not for ever); given-up ones (sent_at NULL,
-- next_attempt_at infinity) p_failed_days after they were queued, longer
-- so that someone can look at last_error; password resets once expired
-- (past their hour, they neither work nor count towards the limit of 3 an
-- hour). At most p_batch rows of each a call, so that no transaction is
-- long: the caller calls again while it returns p_batch. Returns the most
-- rows one kind lost. Every host's mailer prunes: while one does (the
-- advisory lock, 1919 like the programs' periodic jobs, shared/server.c),
-- another's call returns 0 at once instead of deleting the same rows after
-- it.
CREATE OR REPLACE FUNCTION mail_prune(p_sent_days int, p_failed_days int, p_batch int)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	v_mail int;
	v_resets int;
BEGIN
	IF NOT pg_try_advisory_xact_lock(1919, hashtext('mail_prune')) THEN
		RETURN 0;
	END IF;
	DELETE FROM public.mail_outbox WHERE id IN (
		SELECT o.id FROM public.mail_outbox o
		WHERE (o.sent_at IS NOT NULL AND o.sent_at < now() - make_interval(days => p_sent_days))
		   OR (o.sent_at IS NULL AND o.next_attempt_at = 'infinity'
		       AND o.created_at < now() - make_interval(days => p_failed_days))
		LIMIT p_batch);
	GET DIAGNOSTICS v_mail = ROW_COUNT;
	DELETE FROM public.password_resets WHERE id IN (
		SELECT r.id FROM public.password_resets r WHERE r.expires_at < now() LIMIT p_batch);
	GET DIAGNOSTICS v_resets = ROW_COUNT;
	RETURN greatest(v_mail, v_resets);
END
$$;

-- The mail outbox (migrations/020_mail.sql) and its mailer
-- (mailer/main.c).

-- Queues one mail; the mailer hears of it at the commit (NOTIFY msgr_mail)
-- rather than at its next poll.
CREATE OR REPLACE FUNCTION mail_enqueue(p_to text, p_subject text, p_text text, p_html text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint;
BEGIN
	INSERT INTO public.mail_outbox (to_addr, subject, body_text, body_html)
	VALUES (p_to, p_subject, p_text, p_html)
	RETURNING id INTO v_id;
	PERFORM pg_notify('msgr_mail', '');
	RETURN v_id;
END
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

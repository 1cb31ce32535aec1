-- E-mail notifications (API.md "Notifications"): the user's settings, and
-- what the mailer's digest job (mail_digest_user(), functions/mail.sql)
-- needs to mail every message once and never skip one.

-- One row per user who changed a setting; no row means the defaults, which
-- user_settings_of() (functions/settings.sql) alone knows. A column per
-- setting, so that a new one (issue 21's "language") is one ADD COLUMN.
CREATE TABLE IF NOT EXISTS user_settings (
	user_id bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
	email_notifications text NOT NULL
		CHECK (email_notifications IN ('all', 'mentions', 'none')),
	email_delay_minutes int NOT NULL CHECK (email_delay_minutes BETWEEN 1 AND 1440)
);

-- The digest job's row per user it looked at: when it last mailed one (then
-- none for an hour). The row is also what one job locks (FOR UPDATE SKIP
-- LOCKED) while it builds that user's digest, so that two mailers never
-- build one user's at once.
CREATE TABLE IF NOT EXISTS mail_digests (
	user_id bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
	last_sent_at timestamptz
);

-- The member's "mailed up to" watermark: every message of the chat up to
-- this id was either mailed or may never be (read, delivered or not
-- allowed when it was looked at). It moves in the transaction that puts the
-- digest into the outbox, so a mail is queued exactly when its messages are
-- marked. Members of before this migration start at their chat's newest
-- message: an upgrade mails nothing old.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM information_schema.columns
		       WHERE table_schema = 'public' AND table_name = 'chat_members'
		       AND column_name = 'mailed_up_to') THEN
		ALTER TABLE public.chat_members ADD COLUMN mailed_up_to bigint NOT NULL DEFAULT 0;
		UPDATE public.chat_members m SET mailed_up_to = coalesce(c.last_message_id, 0)
		FROM public.chats c WHERE c.id = m.chat_id;
	END IF;
END
$$;

-- Extra header fields of a mail, name to value (List-Unsubscribe and
-- List-Unsubscribe-Post, RFC 8058); the mailer refuses a value with a line
-- break.
ALTER TABLE mail_outbox ADD COLUMN IF NOT EXISTS headers jsonb NOT NULL DEFAULT '{}'
	CHECK (jsonb_typeof(headers) = 'object');

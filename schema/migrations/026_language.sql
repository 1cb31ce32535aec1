-- The app's language per user (issue 21): a column of user_settings like
-- the others (021_mail_digest.sql). The default 'en' is the column's; a
-- registration whose Accept-Language prefers Russian or Ukrainian stores
-- its row at once (user_settings_register(), functions/settings.sql,
-- called by the registration's statement).
ALTER TABLE user_settings ADD COLUMN IF NOT EXISTS language text NOT NULL DEFAULT 'en'
	CHECK (language IN ('en', 'ru', 'uk'));

-- user_settings_update() takes the language too.
DROP FUNCTION IF EXISTS user_settings_update(bigint, text, int);

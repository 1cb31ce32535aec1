-- The user's own settings (API.md "Notifications": GET and PATCH
-- /api/users/me/settings; migrations/021_mail_digest.sql).

-- The settings of p_user: the stored row, else the defaults. The one place
-- that knows the defaults (a user who never changed a setting has no row).
CREATE OR REPLACE FUNCTION user_settings_of(p_user bigint) RETURNS user_settings
LANGUAGE sql STABLE AS $$
	SELECT coalesce(
		(SELECT s FROM public.user_settings s WHERE s.user_id = p_user),
		ROW(p_user, 'all', 10, 'en')::public.user_settings)
$$;

-- The API's settings object.
CREATE OR REPLACE FUNCTION user_settings_json(s user_settings) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('email_notifications', s.email_notifications,
				  'email_delay_minutes', s.email_delay_minutes,
				  'language', s.language)
$$;

-- GET /api/users/me/settings.
CREATE OR REPLACE FUNCTION user_settings_get(p_user bigint) RETURNS api_reply
LANGUAGE sql STABLE AS $$
	SELECT (200, public.user_settings_json(public.user_settings_of(p_user)), NULL)::public.api_reply
$$;

-- PATCH /api/users/me/settings: NULL leaves a setting as it is (the C side
-- checked the values; the table's CHECKs are the last word). The first
-- change stores the defaults with it.
CREATE OR REPLACE FUNCTION user_settings_update(p_user bigint, p_email_notifications text,
						p_email_delay_minutes int, p_language text DEFAULT NULL)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	s public.user_settings := public.user_settings_of(p_user);
BEGIN
	s.email_notifications := coalesce(p_email_notifications, s.email_notifications);
	s.email_delay_minutes := coalesce(p_email_delay_minutes, s.email_delay_minutes);
	s.language := coalesce(p_language, s.language);
	INSERT INTO public.user_settings AS t VALUES (s.*)
	ON CONFLICT (user_id) DO UPDATE
	SET email_notifications = coalesce(p_email_notifications, t.email_notifications),
	    email_delay_minutes = coalesce(p_email_delay_minutes, t.email_delay_minutes),
	    language = coalesce(p_language, t.language)
	RETURNING t.* INTO s;
	RETURN (200, public.user_settings_json(s), NULL)::public.api_reply;
END
$$;

-- The app's language an Accept-Language header (RFC 9110 section 12.5.4)
-- prefers among the ones it has: the highest q of en, ru and uk (a region
-- counts as its language: ru-RU is ru), the earlier on a tie; 'en' when it
-- names none of them. A malformed q leaves its item out rather than fail a
-- registration over a header.
CREATE OR REPLACE FUNCTION language_of_accept(p_header text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce((
		SELECT x.lang FROM (
			SELECT lower(split_part(btrim(split_part(r.item, ';', 1)), '-', 1)) AS lang,
			       CASE WHEN r.item !~* ';\s*q\s*=' THEN 1
				    ELSE substring(r.item FROM '(?i);\s*q\s*=\s*(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\s*$')::numeric
			       END AS q,
			       r.n
			FROM regexp_split_to_table(coalesce(p_header, ''), ',') WITH ORDINALITY r(item, n)
		) x
		WHERE x.lang IN ('en', 'ru', 'uk') AND x.q > 0
		ORDER BY x.q DESC, x.n LIMIT 1), 'en')
$$;

-- At registration (the statement of fcgi/auth/accounts.c): the language of
-- the browser's Accept-Language. English is the column's default, so only
-- another one needs a row.
CREATE OR REPLACE FUNCTION user_settings_register(p_user bigint, p_accept_language text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	lang text := public.language_of_accept(p_accept_language);
BEGIN
	IF lang <> 'en' THEN
		PERFORM public.user_settings_update(p_user, NULL, NULL, lang);
	END IF;
END
$$;

-- The user's own settings (API.md "Notifications": GET and PATCH
-- /api/users/me/settings; migrations/021_mail_digest.sql).

-- The settings of p_user: the stored row, else the defaults. The one place
-- that knows the defaults (a user who never changed a setting has no row).
CREATE OR REPLACE FUNCTION user_settings_of(p_user bigint) RETURNS user_settings
LANGUAGE sql STABLE AS $$
	SELECT coalesce(
		(SELECT s FROM public.user_settings s WHERE s.user_id = p_user),
		ROW(p_user, 'all', 10)::public.user_settings)
$$;

-- The API's settings object.
CREATE OR REPLACE FUNCTION user_settings_json(s user_settings) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object('email_notifications', s.email_notifications,
				  'email_delay_minutes', s.email_delay_minutes)
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
						p_email_delay_minutes int)
RETURNS api_reply LANGUAGE plpgsql AS $$
DECLARE
	s public.user_settings := public.user_settings_of(p_user);
BEGIN
	s.email_notifications := coalesce(p_email_notifications, s.email_notifications);
	s.email_delay_minutes := coalesce(p_email_delay_minutes, s.email_delay_minutes);
	INSERT INTO public.user_settings AS t VALUES (s.*)
	ON CONFLICT (user_id) DO UPDATE
	SET email_notifications = coalesce(p_email_notifications, t.email_notifications),
	    email_delay_minutes = coalesce(p_email_delay_minutes, t.email_delay_minutes)
	RETURNING t.* INTO s;
	RETURN (200, public.user_settings_json(s), NULL)::public.api_reply;
END
$$;

-- The server's words in English, Russian and Ukrainian: the catalogue of
-- every mail (the app's own are www/i18n/*.json). A mail is written in its
-- recipient's language (user_settings.language, migrations/026_language.sql)
-- with mail_text(lang, key, params); nothing else in schema/ spells a
-- mail's words.
--
-- A key of a text that counts has one row per plural form, KEY.one,
-- KEY.few, KEY.many, KEY.other, the CLDR categories of its language for
-- whole numbers (mail_plural()): English needs one and other, Russian and
-- Ukrainian one, few and many. {name} is a placeholder.

-- The CLDR plural category of the whole number p_n in p_lang.
CREATE OR REPLACE FUNCTION mail_plural(p_lang text, p_n bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN p_lang IN ('ru', 'uk') THEN
			CASE WHEN abs(p_n) % 10 = 1 AND abs(p_n) % 100 <> 11 THEN 'one'
			     WHEN abs(p_n) % 10 BETWEEN 2 AND 4 AND abs(p_n) % 100 NOT BETWEEN 12 AND 14 THEN 'few'
			     ELSE 'many' END
		    WHEN p_n = 1 THEN 'one' ELSE 'other' END
$$;

CREATE OR REPLACE FUNCTION mail_catalogue() RETURNS TABLE (lang text, key text, msg text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	VALUES
	-- every mail
	('en', 'hello', 'Hello {name},'),
	('ru', 'hello', 'Здравствуйте, {name}!'),
	('uk', 'hello', 'Вітаємо, {name}!'),

	-- the password reset (password_reset_request(), auth.sql)
	('en', 'reset.subject', 'Reset your Messenger password'),
	('ru', 'reset.subject', 'Сброс пароля Messenger'),
	('uk', 'reset.subject', 'Скидання пароля Messenger'),
	('en', 'reset.asked', 'Someone (we hope you) asked to reset the password of your Messenger account {username}.'),
	('ru', 'reset.asked', 'Кто-то (надеемся, что вы) попросил сбросить пароль вашей учётной записи Messenger {username}.'),
	('uk', 'reset.asked', 'Хтось (сподіваємося, що ви) попросив скинути пароль вашого облікового запису Messenger {username}.'),
	('en', 'reset.open', 'To choose a new one, open this link within an hour:'),
	('ru', 'reset.open', 'Чтобы задать новый, откройте эту ссылку в течение часа:'),
	('uk', 'reset.open', 'Щоб задати новий, відкрийте це посилання протягом години:'),
	('en', 'reset.notYou', 'If it was not you, ignore this mail: your password stays as it is.'),
	('ru', 'reset.notYou', 'Если это были не вы, не обращайте внимания на это письмо: пароль останется прежним.'),
	('uk', 'reset.notYou', 'Якщо це були не ви, не зважайте на цей лист: пароль залишиться тим самим.'),

	-- the notification digest (mail_digest_user(), mail.sql)
	('en', 'digest.subject.one', 'New message from {senders}'),
	('en', 'digest.subject.other', '{n} new messages from {senders}'),
	('ru', 'digest.subject.one', '{n} новое сообщение: {senders}'),
	('ru', 'digest.subject.few', '{n} новых сообщения: {senders}'),
	('ru', 'digest.subject.many', '{n} новых сообщений: {senders}'),
	('uk', 'digest.subject.one', '{n} нове повідомлення: {senders}'),
	('uk', 'digest.subject.few', '{n} нові повідомлення: {senders}'),
	('uk', 'digest.subject.many', '{n} нових повідомлень: {senders}'),
	('en', 'digest.senders2', '{a} and {b}'),
	('ru', 'digest.senders2', '{a} и {b}'),
	('uk', 'digest.senders2', '{a} і {b}'),
	('en', 'digest.sendersMore.one', '{a} and {n} other'),
	('en', 'digest.sendersMore.other', '{a} and {n} others'),
	('ru', 'digest.sendersMore.one', '{a} и ещё {n}'),
	('ru', 'digest.sendersMore.few', '{a} и ещё {n}'),
	('ru', 'digest.sendersMore.many', '{a} и ещё {n}'),
	('uk', 'digest.sendersMore.one', '{a} та ще {n}'),
	('uk', 'digest.sendersMore.few', '{a} та ще {n}'),
	('uk', 'digest.sendersMore.many', '{a} та ще {n}'),
	('en', 'digest.waiting.one', 'A message is waiting for you in Messenger:'),
	('en', 'digest.waiting.other', '{n} messages are waiting for you in Messenger:'),
	('ru', 'digest.waiting.one', '{n} сообщение ждёт вас в Messenger:'),
	('ru', 'digest.waiting.few', '{n} сообщения ждут вас в Messenger:'),
	('ru', 'digest.waiting.many', '{n} сообщений ждут вас в Messenger:'),
	('uk', 'digest.waiting.one', '{n} повідомлення чекає на вас у Messenger:'),
	('uk', 'digest.waiting.few', '{n} повідомлення чекають на вас у Messenger:'),
	('uk', 'digest.waiting.many', '{n} повідомлень чекають на вас у Messenger:'),
	('en', 'digest.in', '{sender} in {title}'),
	('ru', 'digest.in', '{sender} в «{title}»'),
	('uk', 'digest.in', '{sender} у «{title}»'),
	('en', 'digest.attachment', '(an attachment)'),
	('ru', 'digest.attachment', '(вложение)'),
	('uk', 'digest.attachment', '(вкладення)'),
	('en', 'digest.openChat', 'Open the chat'),
	('ru', 'digest.openChat', 'Открыть чат'),
	('uk', 'digest.openChat', 'Відкрити чат'),
	('en', 'digest.more.one', 'and {n} more.'),
	('en', 'digest.more.other', 'and {n} more.'),
	('ru', 'digest.more.one', 'и ещё {n} сообщение.'),
	('ru', 'digest.more.few', 'и ещё {n} сообщения.'),
	('ru', 'digest.more.many', 'и ещё {n} сообщений.'),
	('uk', 'digest.more.one', 'і ще {n} повідомлення.'),
	('uk', 'digest.more.few', 'і ще {n} повідомлення.'),
	('uk', 'digest.more.many', 'і ще {n} повідомлень.'),
	('en', 'digest.openApp', 'Open Messenger'),
	('ru', 'digest.openApp', 'Открыть Messenger'),
	('uk', 'digest.openApp', 'Відкрити Messenger'),
	('en', 'digest.why', 'You get this mail because e-mail notifications are on for your account.'),
	('ru', 'digest.why', 'Вы получили это письмо, потому что для вашей учётной записи включены уведомления по почте.'),
	('uk', 'digest.why', 'Ви отримали цей лист, тому що для вашого облікового запису увімкнено сповіщення поштою.'),
	('en', 'digest.toTurnOff', 'To turn them off, open {url}'),
	('ru', 'digest.toTurnOff', 'Чтобы отключить их, откройте {url}'),
	('uk', 'digest.toTurnOff', 'Щоб вимкнути їх, відкрийте {url}'),
	('en', 'digest.turnOff', 'Turn them off'),
	('ru', 'digest.turnOff', 'Отключите их'),
	('uk', 'digest.turnOff', 'Вимкніть їх'),
	('en', 'digest.orProfile', 'or change them in your profile.'),
	('ru', 'digest.orProfile', 'или измените их в профиле.'),
	('uk', 'digest.orProfile', 'або змініть їх у профілі.'),

	-- the export's "ready" mail (mail_export_ready(), export.sql)
	('en', 'export.subject', 'Your Messenger data is ready to download'),
	('ru', 'export.subject', 'Ваши данные Messenger готовы к скачиванию'),
	('uk', 'export.subject', 'Ваші дані Messenger готові до завантаження'),
	('en', 'export.ready', 'The export of your Messenger data you asked for is ready. Download it (a ZIP archive) from this link until {date}:'),
	('ru', 'export.ready', 'Экспорт ваших данных Messenger, который вы запросили, готов. Скачайте его (ZIP-архив) по этой ссылке до {date}:'),
	('uk', 'export.ready', 'Експорт ваших даних Messenger, який ви запросили, готовий. Завантажте його (ZIP-архів) за цим посиланням до {date}:'),
	('en', 'export.contents', 'The archive holds your profile, your chats and every message and file you can see in them, as JSON, with an index.html to read it in a browser.'),
	('ru', 'export.contents', 'В архиве ваш профиль, ваши чаты и все сообщения и файлы, которые вы в них видите, в формате JSON, а также index.html, чтобы читать их в браузере.'),
	('uk', 'export.contents', 'В архіві ваш профіль, ваші чати й усі повідомлення та файли, які ви в них бачите, у форматі JSON, а також index.html, щоб читати їх у браузері.'),
	('en', 'export.private', 'Anyone who has the link can download it: do not share it.'),
	('ru', 'export.private', 'Скачать архив может любой, у кого есть ссылка: не делитесь ею.'),
	('uk', 'export.private', 'Завантажити архів може будь-хто, у кого є посилання: не діліться ним.')
$$;

-- The text p_key of the catalogue in p_lang (English for a language it
-- lacks); with a number p_n, the key's plural form for it. A key the
-- catalogue lacks is a bug: it raises.
CREATE OR REPLACE FUNCTION mail_template(p_lang text, p_key text, p_n bigint) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	l text := CASE WHEN p_lang IN ('en', 'ru', 'uk') THEN p_lang ELSE 'en' END;
	k text := CASE WHEN p_n IS NULL THEN p_key ELSE p_key || '.' || public.mail_plural(l, p_n) END;
	v text;
BEGIN
	SELECT c.msg INTO v FROM public.mail_catalogue() c WHERE c.lang = l AND c.key = k;
	IF v IS NULL THEN
		RAISE EXCEPTION 'mail_text: the catalogue has no % in %', k, l;
	END IF;
	RETURN v;
END
$$;

-- p_template's {name}s replaced by p_params' values, each once, left to
-- right: a value (a display name may hold "{url}") is never read again
-- for placeholders. For HTML (p_html) the text and the values are
-- escaped, and the values named in p_bold set in <b>.
CREATE OR REPLACE FUNCTION mail_fill(p_template text, p_params jsonb, p_html boolean, p_bold text[])
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	rest text := p_template;
	out text := '';
	m text[];
	v text;
BEGIN
	LOOP
		m := regexp_match(rest, '^(.*?)\{(\w+)\}(.*)$', 's');
		EXIT WHEN m IS NULL;
		v := coalesce(p_params->>m[2], '{' || m[2] || '}');
		IF p_html THEN
			v := public.html_escape(v);
			IF m[2] = ANY (p_bold) THEN
				v := '<b>' || v || '</b>';
			END IF;
			out := out || public.html_escape(m[1]) || v;
		ELSE
			out := out || m[1] || v;
		END IF;
		rest := m[3];
	END LOOP;
	RETURN out || CASE WHEN p_html THEN public.html_escape(rest) ELSE rest END;
END
$$;

-- A mail's text p_key in p_lang with p_params (a number "n" among them
-- chooses the plural form): mail_text('ru', 'digest.more', '{"n": 3}').
CREATE OR REPLACE FUNCTION mail_text(p_lang text, p_key text, p_params jsonb DEFAULT '{}')
RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT public.mail_fill(public.mail_template(p_lang, p_key, (p_params->>'n')::bigint), p_params,
				false, '{}')
$$;

-- The same as HTML text, the values named in p_bold in <b>.
CREATE OR REPLACE FUNCTION mail_html(p_lang text, p_key text, p_params jsonb DEFAULT '{}',
				     p_bold text[] DEFAULT '{}')
RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT public.mail_fill(public.mail_template(p_lang, p_key, (p_params->>'n')::bigint), p_params,
				true, p_bold)
$$;

-- The language a mail to p_user is written in.
CREATE OR REPLACE FUNCTION mail_language(p_user bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT (public.user_settings_of(p_user)).language
$$;

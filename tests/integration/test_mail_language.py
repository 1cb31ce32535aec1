"""Mails in the recipient's language (issue 21; schema/functions/i18n.sql,
the catalogue, mail_text()): the password reset and the notification digest
of a Russian and a Ukrainian user, read from the SMTP sink, their subjects
RFC 2047 encoded, the counts in the right plural forms ("и ещё 3
сообщения"); and the catalogue's plural rules and placeholders on their own."""

import re

import pytest

from chatkit import group, send, uid

LINK = re.compile(r"/#/reset\?token=[A-Za-z0-9_-]+")


def speaking(api, new_user, lang, name, display_name):
    u = new_user(name, display_name=display_name)
    r = api.patch("/api/users/me/settings", token=u, json={"language": lang})
    assert r.status_code == 200 and r.json()["language"] == lang, r.text
    return u


def text_of(mail):
    return mail.get_body(("plain",)).get_content()


def html_of(mail):
    return mail.get_body(("html",)).get_content()


def raw_subject(mail):
    head = mail.raw.split(b"\r\n\r\n", 1)[0]
    return re.search(rb"\r\nSubject: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head).group(1)


RESET = {
    "ru": ("Сброс пароля Messenger", "Здравствуйте, Иван «{url}»!",
           "Чтобы задать новый, откройте эту ссылку в течение часа:",
           "Если это были не вы, не обращайте внимания на это письмо: пароль останется прежним."),
    "uk": ("Скидання пароля Messenger", "Вітаємо, Іван «{url}»!",
           "Щоб задати новий, відкрийте це посилання протягом години:",
           "Якщо це були не ви, не зважайте на цей лист: пароль залишиться тим самим."),
}


@pytest.mark.parametrize("lang", ["ru", "uk"])
def test_the_password_reset_mail_in_the_accounts_language(stack, api, new_user, lang):
    subject, hello, open_, not_you = RESET[lang]
    # a placeholder in a name is only text
    u = speaking(api, new_user, lang, "reset" + lang, "Иван «{url}»" if lang == "ru" else "Іван «{url}»")
    r = api.post("/api/auth/password-reset", json={"email": u["email"]})
    assert r.status_code == 202
    (mail,) = stack.wait_mails(u["email"])
    assert mail["Subject"] == subject
    assert raw_subject(mail).startswith(b"=?UTF-8?B?")
    text = text_of(mail)
    assert text.startswith(hello + "\n\n"), text
    assert f" {u['username']}.\n{open_}\n\n" in text
    assert LINK.search(text) and text.endswith(not_you + "\n")
    html = html_of(mail)
    assert f"<b>{u['username']}</b>" in html and "&laquo;" not in html and "«{url}»" in html
    assert LINK.search(html) and open_ in html


def age(stack, chat_id, minutes=11):
    stack.psql("UPDATE messages SET created_at = created_at - make_interval(mins => %s) "
               "WHERE chat_id = %s", minutes, chat_id)


# n messages in a group from three senders, 20 listed: the subject's,
# the body's and the rest's plural forms.
DIGEST = {
    "ru": (23, "23 новых сообщения: Анна и ещё 2", "Здравствуйте, Читатель!",
           "23 сообщения ждут вас в Messenger:", "Анна в «Планы»:", "и ещё 3 сообщения.",
           "Открыть Messenger: ", "Чтобы отключить их, откройте ", "Открыть чат"),
    "uk": (25, "25 нових повідомлень: Анна та ще 2", "Вітаємо, Читач!",
           "25 повідомлень чекають на вас у Messenger:", "Анна у «Планы»:", "і ще 5 повідомлень.",
           "Відкрити Messenger: ", "Щоб вимкнути їх, відкрийте ", "Відкрити чат"),
}


@pytest.mark.parametrize("lang", ["ru", "uk"])
def test_the_digest_in_the_readers_language(stack, api, new_user, lang):
    n, subject, hello, waiting, line, more, open_app, turn_off, open_chat = DIGEST[lang]
    reader = speaking(api, new_user, lang, "reader" + lang, "Читатель" if lang == "ru" else "Читач")
    ann, bob, cat = (new_user(x, display_name=d) for x, d in (("ann", "Анна"), ("bob", "Борис"), ("cat", "Катя")))
    g = group(api, ann, [reader, bob, cat], title="Планы")
    for i in range(n):
        send(api, (ann, bob, cat)[i % 3] if i else ann, g["id"], f"сообщение {i}")
    age(stack, g["id"])
    # The digest job of the session's stack runs hourly: its step for the
    # reader, as the mailer calls it (test_mail_digest.py runs the job).
    stack.psql("SELECT mail_digest_user(%s, %s, %s)", uid(reader), stack.base_url,
               stack.base_url + "/api/auth/unsubscribe?token=t")
    (mail,) = stack.wait_mails(reader["email"], timeout=30)
    assert mail["Subject"] == subject
    assert raw_subject(mail).startswith(b"=?UTF-8?B?")
    text = text_of(mail)
    assert text.startswith(f"{hello}\n\n{waiting}\n\n{line}\n  сообщение 0\n"), text
    assert f"\n\n{more}\n\n{open_app}{stack.base_url}/\n\n" in text, text
    assert turn_off in text
    html = html_of(mail)
    assert f"<p>{waiting}</p>" in html and f">{open_chat}</a>" in html
    assert "<b>Анна</b>" in html and "<b>Планы</b>" in html
    assert "Hello" not in text and "Open" not in html


def mail_text(stack, lang, key, **params):
    import json

    return stack.psql("SELECT mail_text(%s, %s, %s::jsonb)", lang, key, json.dumps(params))[0][0]


def test_the_catalogues_plural_forms_and_placeholders(stack):
    forms = {1: "сообщение", 2: "сообщения", 4: "сообщения", 5: "сообщений", 11: "сообщений",
             12: "сообщений", 14: "сообщений", 21: "сообщение", 22: "сообщения", 25: "сообщений",
             101: "сообщение", 111: "сообщений", 0: "сообщений"}
    for n, word in forms.items():
        assert mail_text(stack, "ru", "digest.more", n=n) == f"и ещё {n} {word}.", n
    uk = {1: "повідомлення", 3: "повідомлення", 5: "повідомлень", 11: "повідомлень", 21: "повідомлення"}
    for n, word in uk.items():
        assert mail_text(stack, "uk", "digest.more", n=n) == f"і ще {n} {word}.", n
    assert mail_text(stack, "en", "digest.subject", n=1, senders="A") == "New message from A"
    assert mail_text(stack, "en", "digest.subject", n=2, senders="A") == "2 new messages from A"
    # a language the catalogue lacks reads in English
    assert mail_text(stack, "de", "hello", name="X") == "Hello X,"
    # a value is never read again for placeholders
    assert mail_text(stack, "en", "digest.in", sender="{title}", title="T") == "{title} in T"
    assert stack.psql("SELECT mail_html('en', 'digest.in', %s::jsonb, '{sender}')",
                      '{"sender": "<a&b>", "title": "\\"t\\""}')[0][0] == "<b>&lt;a&amp;b&gt;</b> in &quot;t&quot;"
    # every key has its text in every language, with the same placeholders,
    # and every plural the forms its language needs
    rows = stack.psql("SELECT lang, key, msg FROM mail_catalogue()")
    cat = {}
    for lang, key, msg in rows:
        assert (lang, key) not in cat, (lang, key)
        cat[(lang, key)] = msg
    base = {}
    for (lang, key), msg in cat.items():
        stem, _, form = key.rpartition(".")
        if form in ("one", "few", "many", "other"):
            base.setdefault((lang, stem), set()).add(form)
            key = stem
        base.setdefault((lang, key), set())
        holes = set(re.findall(r"\{(\w+)\}", msg)) - {"n"}
        en = [m for (l, k), m in cat.items() if l == "en" and (k == key or k.startswith(key + "."))]
        assert en and holes == set(re.findall(r"\{(\w+)\}", en[0])) - {"n"}, (lang, key)
    need = {"en": {"one", "other"}, "ru": {"one", "few", "many"}, "uk": {"one", "few", "many"}}
    for (lang, key), got in base.items():
        assert not got or got == need[lang], (lang, key, got)
    keys = {lang: {k for (l, k) in base if l == lang} for lang in need}
    assert keys["ru"] == keys["en"] == keys["uk"]


EXPORT = {
    "ru": ("Ваши данные Messenger готовы к скачиванию",
           "Экспорт ваших данных Messenger, который вы запросили, готов."),
    "uk": ("Ваші дані Messenger готові до завантаження",
           "Експорт ваших даних Messenger, який ви запросили, готовий."),
}


@pytest.mark.parametrize("lang", ["ru", "uk"])
def test_the_export_ready_mail_in_the_accounts_language(stack, api, new_user, lang):
    # the words as export_ready() takes them (test_export follows the whole
    # export to the mail in English)
    u = speaking(api, new_user, lang, "export" + lang, "Олена")
    subject, body_text, body_html = stack.psql(
        "SELECT * FROM mail_export_ready(%s, 'https://m.example/api/files/9?sig=a&b', "
        "'2026-12-10 08:05+00')", uid(u))[0]
    want_subject, ready = EXPORT[lang]
    assert subject == want_subject
    assert ready in body_text and "2026-12-10 08:05 UTC" in body_text
    assert "Олена" in body_text and "Hello" not in body_text
    assert "https://m.example/api/files/9?sig=a&b\n" in body_text
    assert 'href="https://m.example/api/files/9?sig=a&amp;b"' in body_html and ready in body_html

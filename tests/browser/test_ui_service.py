"""A group's service messages in the reader's language (issue 21; Message
"service", www/js/service.js), in Russian and Ukrainian, on desktop and
phone: each kind said from its data with the users' names of now (a member
removed before the reader came is fetched; a rename shows at once; a
deleted account reads "Deleted account" in the language), and the chat
list's preview of the last one too. The server's English text never shows."""

import json

import pytest

from browser import By
from helpers import REPO
from ui import lang_device, open_chat, shots, sign_in

PHONE = pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
CATALOGUES = {lang: json.loads((REPO / "www" / "i18n" / f"{lang}.json").read_text()) for lang in ("ru", "uk")}

PILLS = "return [...document.querySelectorAll('.msg-row.service .service-pill')].map(e => e.textContent)"


def say(cat, key, **names):
    text = cat[key]
    for k, v in names.items():
        text = text.replace("{" + k + "}", v)
    return text


@PHONE
@pytest.mark.parametrize("lang", ["ru", "uk"])
def test_service_messages_in_the_readers_language(browser, api, new_user, lang, phone, out_dir):
    cat = CATALOGUES[lang]
    ann = new_user("ann", display_name="Анна")
    bob = new_user("bob", display_name="Борис")
    gone = new_user("gone", display_name="Гость")
    quit_ = new_user("quit", display_name="Уходящий")
    reader = new_user("reader", display_name="Читатель")
    ids = {u["username"]: u["user"]["id"] for u in (ann, bob, gone, quit_, reader)}
    assert api.patch("/api/users/me/settings", token=reader, json={"language": lang}).status_code == 200
    g = api.post("/api/chats", token=ann, json={"type": "group", "title": "Команда",
                                               "member_ids": [ids[bob["username"]], ids[gone["username"]],
                                                              ids[quit_["username"]]]}).json()
    gid = g["id"]

    def ok(r):
        assert r.status_code in (200, 201, 204), r.text

    ok(api.patch(f"/api/chats/{gid}", token=ann, json={"title": "Бригада"}))
    ok(api.delete(f"/api/chats/{gid}/members/{ids[gone['username']]}", token=ann))
    ok(api.post(f"/api/chats/{gid}/members", token=ann, json={"user_id": ids[reader["username"]]}))
    m = api.post(f"/api/chats/{gid}/messages", token=bob, json={"text": "План на **завтра**"}).json()
    ok(api.put(f"/api/chats/{gid}/pins/{m['id']}", token=ann))
    ok(api.delete("/api/users/me", token=quit_, json={"password": quit_["password"]}))
    ok(api.put(f"/api/chats/{gid}/owner", token=ann, json={"user_id": ids[bob["username"]]}))

    b = lang_device(browser, phone, lang)
    sign_in(b, reader["username"], reader["password"])
    deleted = cat["user.deleted"]
    want = [
        say(cat, "service.groupCreated", actor="Анна", title="Команда"),
        say(cat, "service.groupRenamed", actor="Анна", title="Бригада"),
        # Гость left before the reader came: fetched by id
        say(cat, "service.memberRemoved", actor="Анна", user="Гость"),
        say(cat, "service.memberAdded", actor="Анна", user="Читатель"),
        say(cat, "service.messagePinned", actor="Анна", text="План на завтра"),
        say(cat, "service.memberLeft", actor=deleted),
        say(cat, "service.ownerHanded", actor="Анна", user="Борис"),
    ]
    # the list's preview says the last one in the language
    preview = say(cat, "service.ownerHanded", actor="Анна", user="Борис")
    b.wait(lambda d: any(preview in e.text for e in d.find_elements(By.CSS_SELECTOR, ".chat-list .chat-item")),
           15, f"the preview {preview!r}")
    open_chat(b, "Бригада")
    b.wait(lambda d: d.execute_script(PILLS) == want, 15, f"the service messages {want} (shown: {b.js(PILLS)})")
    welcome = say(cat, "service.welcome", user="Читатель")
    assert "Welcome" not in " ".join(b.js(PILLS))
    # A rename shows at once in the messages that name the user.
    ok(api.patch("/api/users/me", token=ann, json={"display_name": "Анна К."}))
    b.wait(lambda d: d.execute_script(PILLS)[0] == say(cat, "service.groupCreated", actor="Анна К.", title="Команда"),
           15, f"the new name (shown: {b.js(PILLS)})")
    if lang == "ru":
        shots(b, out_dir, "ru-service", phone)
    # The reader's own welcome chat, in the language too.
    if phone:
        b.click(".back-btn")
    open_chat(b, "Welcome")
    b.wait(lambda d: d.execute_script(PILLS) == [welcome], 15, f"the welcome (shown: {b.js(PILLS)})")

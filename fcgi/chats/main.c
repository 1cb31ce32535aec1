/*
 * chats - the chat list, direct and group chats, and group membership
 * (API.md "Chats and messages"). Everything inside a chat (messages,
 * reactions, read markers, search) is the messages program's.
 */
#include "chats.h"
#include "config.h"
#include "pagecache.h"
#include "server.h"

static const struct http_route routes[] = {
	{"GET", "/api/chats", handle_list_chats, NULL},
	{"POST", "/api/chats", handle_create_chat, NULL},
	{"GET", "/api/chats/{chat_id}", handle_get_chat, NULL},
	{"PATCH", "/api/chats/{chat_id}", handle_update_chat, NULL},
	{"DELETE", "/api/chats/{chat_id}", handle_delete_chat, NULL},
	{"PUT", "/api/chats/{chat_id}/owner", handle_set_owner, NULL},
	{"POST", "/api/chats/{chat_id}/members", handle_add_member, NULL},
	{"DELETE", "/api/chats/{chat_id}/members/{user_id}", handle_remove_member, NULL},
	{"PUT", "/api/chats/{chat_id}/pins/{message_id}", handle_pin, NULL},
	{"DELETE", "/api/chats/{chat_id}/pins/{message_id}", handle_unpin, NULL},
	{"PATCH", "/api/chats/{chat_id}/settings", handle_chat_settings, NULL},
};

/* Kept chat lists (handle_list_chats); the messages program's setting, as
 * both keep rendered answers the same way. */
static int init_worker(void)
{
	page_cache_set_budget((size_t)config_int("MSGR_PAGE_CACHE_KB", 8192, 0, 1048576) * 1024);
	return 0;
}

static const struct srv_app app = {
	.name = "chats",
	.init_worker = init_worker,
	.routes = routes,
	.nroutes = sizeof routes / sizeof routes[0],
};

int main(int argc, char **argv)
{
	return srv_main(argc, argv, &app);
}

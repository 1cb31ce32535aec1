/*
 * chats - the chat list, direct and group chats, and group membership
 * (API.md "Chats and messages"). Everything inside a chat (messages,
 * reactions, read markers, search) is the messages program's.
 */
#include "chats.h"
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

static const struct srv_app app = {
	.name = "chats",
	.routes = routes,
	.nroutes = sizeof routes / sizeof routes[0],
};

int main(int argc, char **argv)
{
	return srv_main(argc, argv, &app);
}

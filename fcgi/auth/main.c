/*
 * auth - accounts, tokens and profiles (API.md "Auth and users"), and the
 * health check.
 */
#include "auth.h"
#include "server.h"

static const struct http_route routes[] = {
	{"GET", "/api/health", handle_health},
	{"POST", "/api/auth/register", handle_register},
	{"POST", "/api/auth/login", handle_login},
	{"POST", "/api/auth/token", handle_token},
	{"POST", "/api/auth/refresh", handle_refresh},
	{"POST", "/api/auth/logout", handle_logout},
	{"GET", "/api/users/me", handle_me},
	{"PATCH", "/api/users/me", handle_update_me},
	{"GET", "/api/users", handle_search_users},
	{"GET", "/api/users/{user_id}", handle_get_user},
};

static const struct srv_app app = {
	.name = "auth",
	.routes = routes,
	.nroutes = sizeof routes / sizeof routes[0],
	.init_worker = password_init,
};

int main(int argc, char **argv)
{
	return srv_main(argc, argv, &app);
}

/*
 * auth - accounts, tokens and profiles (API.md "Auth and users"), the
 * administrators' API (admin.c), the health checks and the metrics of
 * every program (health.c).
 */
#include "auth.h"
#include "config.h"
#include "server.h"

static const struct http_route routes[] = {
	{"GET", "/api/health", handle_health, NULL},
	{"GET", "/api/health/ready", handle_ready, NULL},
	{"GET", "/metrics", handle_metrics, NULL},
	{"POST", "/api/auth/register", handle_register, NULL},
	{"POST", "/api/auth/login", handle_login, NULL},
	{"POST", "/api/auth/token", handle_token, NULL},
	{"POST", "/api/auth/refresh", handle_refresh, NULL},
	{"POST", "/api/auth/logout", handle_logout, NULL},
	{"POST", "/api/auth/password-reset", handle_password_reset, NULL},
	{"POST", "/api/auth/password-reset/confirm", handle_password_reset_confirm, NULL},
	{"GET", "/api/auth/unsubscribe", handle_unsubscribe_page, NULL},
	{"POST", "/api/auth/unsubscribe", handle_unsubscribe, NULL},
	{"GET", "/api/auth/sessions", handle_list_sessions, NULL},
	{"DELETE", "/api/auth/sessions/{session_id}", handle_delete_session, NULL},
	{"POST", "/api/users/me/password", handle_change_password, NULL},
	{"GET", "/api/users/me", handle_me, NULL},
	{"GET", "/api/users/me/settings", handle_get_settings, NULL},
	{"PATCH", "/api/users/me/settings", handle_update_settings, NULL},
	{"PATCH", "/api/users/me", handle_update_me, NULL},
	{"DELETE", "/api/users/me", handle_delete_me, NULL},
	{"GET", "/api/users", handle_search_users, NULL},
	{"GET", "/api/users/{user_id}", handle_get_user, NULL},
	{"PUT", "/api/users/{user_id}/block", handle_block, NULL},
	{"DELETE", "/api/users/{user_id}/block", handle_unblock, NULL},
	{"GET", "/api/users/me/blocks", handle_list_blocks, NULL},
	{"GET", "/api/admin/users", handle_admin_users, NULL},
	{"PATCH", "/api/admin/users/{user_id}", handle_admin_update_user, NULL},
	{"DELETE", "/api/admin/users/{user_id}", handle_admin_delete_user, NULL},
	{"DELETE", "/api/admin/users/{user_id}/messages", handle_admin_delete_messages, NULL},
	{"GET", "/api/admin/reports", handle_admin_reports, NULL},
	{"PATCH", "/api/admin/reports/{report_id}", handle_admin_update_report, NULL},
	{"GET", "/api/admin/stats", handle_admin_stats, NULL},
	{"GET", "/api/admin/audit", handle_admin_audit, NULL},
};

int main(int argc, char **argv)
{
	struct srv_app app = {
		.name = "auth",
		.routes = routes,
		.nroutes = sizeof routes / sizeof routes[0],
		.init_worker = password_init,
		.periodic = prune_auth_counters,
		.periodic_secs = (unsigned)config_int("MSGR_PRUNE_INTERVAL", 3600, 1, 86400),
	};
	return srv_main(argc, argv, &app);
}

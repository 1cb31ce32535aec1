# scripts/lib.sh - what stack.sh, backup.sh and restore.sh share: absolute
# paths, messages, and the user the stack runs as. Sourced, not run; the
# caller sets ME (the name its messages start with) first.

# $1 as an absolute path without a trailing slash.
abs() {
	case $1 in
	/*) printf '%s\n' "${1%/}" ;;
	*) printf '%s/%s\n' "$(pwd)" "${1%/}" ;;
	esac
}

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() {
	printf '%s: %s\n' "$ME" "$*" >&2
	exit 1
}

# The stack runs as the unprivileged messenger user when root starts it
# (PostgreSQL refuses to run as root, and nothing else needs it), else as
# the caller.
if [[ $(id -u) == 0 ]]; then
	RUN_USER=messenger
	RUNAS=(/usr/bin/setpriv --reuid=messenger --regid=messenger --init-groups --)
else
	RUN_USER=$(id -un 2>/dev/null || echo "${USER:?cannot tell who I am}")
	RUNAS=()
fi

# Runs a command as the run user, from a directory it can enter.
as_user() { (cd / && "${RUNAS[@]}" "$@"); }

#!/usr/bin/env bash
# render-nginx.sh - render the nginx templates into a directory.
#
#   scripts/render-nginx.sh [--snippets] DEST
#
# Writes DEST/messenger-upstreams.conf (include in http {}),
# DEST/messenger-locations.conf (include in server {}) and
# DEST/messenger-fastcgi.conf (included by the locations), and, without
# --snippets, DEST/nginx.conf for a whole nginx of the local stack.
#
# Placeholders and the environment that fills them:
#   @RUN@      RUN_DIR      the programs' sockets            (required)
#   @STORAGE@  STORAGE_DIR  uploaded files                   (required)
#   @WWW@      WWW_DIR      the web app                      (default: the repo's www/)
#   @CONF@     CONF_DIR     where the rendered files live    (default: DEST)
#   @PORT@     PORT         the port to listen on            (default 8080)
#   @LISTEN@   LISTEN_ADDR  the address to listen on         (default 127.0.0.1)
#   @VAR@      VAR_DIR      logs and temporary files: @VAR@/log, @VAR@/tmp
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
snippets_only=0
if [[ ${1:-} == --snippets ]]; then
	snippets_only=1
	shift
fi
if [[ $# -ne 1 ]]; then
	echo "usage: $0 [--snippets] DEST" >&2
	exit 2
fi

abs() { # the absolute form of a path that may not exist yet
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$(pwd)" "$1" ;;
	esac
}

dest=$(abs "$1")
: "${RUN_DIR:?RUN_DIR is required (the directory of the program sockets)}"
: "${STORAGE_DIR:?STORAGE_DIR is required (the directory of uploaded files)}"
run=$(abs "$RUN_DIR")
storage=$(abs "$STORAGE_DIR")
storage=${storage%/}
www=$(abs "${WWW_DIR:-$top/www}")
www=${www%/}
conf=$(abs "${CONF_DIR:-$dest}")
port=${PORT:-8080}
listen=${LISTEN_ADDR:-127.0.0.1}
var=$(abs "${VAR_DIR:-$dest}")

# The values land unquoted in nginx directives and in sed replacements:
# refuse anything but plain path characters rather than escape.
for pair in "RUN_DIR=$run" "STORAGE_DIR=$storage" "WWW_DIR=$www" "CONF_DIR=$conf" \
	"VAR_DIR=$var" "PORT=$port" "LISTEN_ADDR=$listen"; do
	value=${pair#*=}
	if [[ ! $value =~ ^[][A-Za-z0-9/._:+-]+$ ]]; then
		echo "render-nginx: ${pair%%=*} '$value' has characters nginx paths cannot take here" >&2
		exit 2
	fi
done
if [[ ! $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
	echo "render-nginx: PORT '$port' is not a port number" >&2
	exit 2
fi
if ((${#run} > 90)); then
	echo "render-nginx: RUN_DIR '$run' is too long for unix socket paths" >&2
	exit 2
fi

render() { # template output
	local tmp
	tmp=$(mktemp "$2.XXXXXX")
	sed -e "s|@RUN@|$run|g" -e "s|@STORAGE@|$storage|g" -e "s|@WWW@|$www|g" \
		-e "s|@CONF@|$conf|g" -e "s|@PORT@|$port|g" -e "s|@LISTEN@|$listen|g" \
		-e "s|@VAR@|$var|g" "$1" >"$tmp"
	if grep -En '@[A-Z]+@' "$tmp" >&2; then
		rm -f "$tmp"
		echo "render-nginx: $1 has a placeholder this script does not know" >&2
		exit 2
	fi
	chmod 0644 "$tmp"
	mv -f "$tmp" "$2"
}

mkdir -p "$dest"
for f in messenger-upstreams.conf messenger-locations.conf messenger-fastcgi.conf; do
	render "$top/nginx/$f" "$dest/$f"
done
if ((!snippets_only)); then
	render "$top/nginx.conf" "$dest/nginx.conf"
fi
echo "render-nginx: wrote $dest" >&2

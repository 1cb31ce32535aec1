#!/usr/bin/env bash
# render-nginx.sh - render the nginx templates into a directory.
#
#   scripts/render-nginx.sh [--snippets] DEST
#
# Writes DEST/messenger-upstreams.conf (include in http {}),
# DEST/messenger-locations.conf (include in server {}) and
# DEST/messenger-fastcgi.conf (included by the locations), and, without
# --snippets, DEST/nginx.conf for a whole nginx of the local stack. It also
# creates DEST/messenger-server-headers.conf, which the locations that set
# headers include, when it does not exist: that one is the sysadmin's (the
# add_header lines of their server, README "Behind your own nginx") and is
# never overwritten.
#
# Placeholders and the environment that fills them:
#   @RUN@      RUN_DIR      the programs' sockets            (required)
#   @STORAGE@  STORAGE_DIR  uploaded files                   (required)
#   @WWW@      WWW_DIR      the web app                      (default: the repo's www/)
#   @CONF@     CONF_DIR     where the rendered files live    (default: DEST)
#   @PORT@     PORT         the port to listen on            (default 8080)
#   @LISTEN@   LISTEN_ADDR  the address to listen on         (default 127.0.0.1)
#   @VAR@      VAR_DIR      logs and temporary files: @VAR@/log, @VAR@/tmp
#   @PREFIX@   URL_PREFIX   the path the app is mounted under: /chat serves
#                           it at /chat/ and its API at /chat/api/ (default
#                           empty: the root). Not PREFIX, which is make's
#                           installation prefix.
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
prefix=${URL_PREFIX:-}
prefix=${prefix%/}

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
# It lands in regular expressions too (the locations, the map that strips
# it): plain segments only, so nothing in it means anything there.
if [[ ! $prefix =~ ^(/[A-Za-z0-9_-]+)*$ ]]; then
	echo "render-nginx: URL_PREFIX '$URL_PREFIX' is not a path like /chat (segments of letters, digits, _ and -)" >&2
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
		-e "s|@VAR@|$var|g" -e "s|@PREFIX@|$prefix|g" "$1" >"$tmp"
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
headers=$dest/messenger-server-headers.conf
if [[ ! -e $headers ]]; then
	cat >"$headers.tmp" <<'EOF'
# messenger-server-headers.conf - the add_header lines of the server { }
# (or http { }) that includes messenger-locations.conf, repeated here.
#
# nginx drops every inherited add_header in a location that has one of its
# own, and the messenger's web app, downloads and some of its errors add
# headers (CSP, nosniff...): those locations include this file, so that
# your server's headers (Strict-Transport-Security, Permissions-Policy...)
# are on every answer. Copy your server's add_header lines here, e.g.
#
#   add_header Strict-Transport-Security "max-age=31536000" always;
#
# but not Content-Security-Policy, X-Content-Type-Options, Referrer-Policy
# or Cache-Control, which those locations set themselves.
# scripts/render-nginx.sh creates this file once and never overwrites it.
EOF
	chmod 0644 "$headers.tmp"
	mv -n "$headers.tmp" "$headers"
	rm -f "$headers.tmp"
fi
if ((!snippets_only)); then
	render "$top/nginx.conf" "$dest/nginx.conf"
fi
echo "render-nginx: wrote $dest" >&2

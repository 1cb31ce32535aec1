#!/usr/bin/env bash
# deps.sh - install the Debian 12 packages the messenger needs, if missing.
#
#   scripts/deps.sh [build] [run] [test]     (default: all three groups)
#
# A fast no-op when everything is installed. Otherwise runs apt-get update
# once and apt-get install for the missing packages only, as root or through
# sudo. The stack never uses the system's PostgreSQL or nginx services: their
# packages are only needed for the binaries, so they are kept from starting
# while installing (policy-rc.d), and one that runs anyway does not matter.
# The test group also installs from npm the OpenAPI linter, pinned by
# tools/openapi/package-lock.json, into tools/openapi/node_modules, and the
# test stack's S3 server (s3rver), pinned by tools/s3/package-lock.json.
set -euo pipefail

build=(gcc make clang pkg-config libfcgi-dev libpq-dev libjson-c-dev libjwt-dev
	libscrypt-dev libwebsockets-dev libmagic-dev libssl-dev libcurl4-openssl-dev zlib1g-dev)
# libfcgi-bin: cgi-fcgi, the healthcheck of the FastCGI programs
# (scripts/container.sh health app).
run=(postgresql-15 postgresql-15-rum nginx-light curl libfcgi-bin)
# python3-aiosmtpd: the SMTP server the test stack's mail goes to (tests/smtpsink.py).
# systemd: its systemd-analyze verifies the units (tests/integration/test_install.py);
# every Debian 12 machine has it, a container image may not.
test=(python3-pytest python3-requests python3-websockets python3-psycopg2
	python3-selenium python3-yaml chromium chromium-driver fonts-noto-color-emoji wrk systemd
	logrotate python3-aiosmtpd)

groups=("$@")
((${#groups[@]})) || groups=(build run test)
wanted=()
for g in "${groups[@]}"; do
	case $g in
	build) wanted+=("${build[@]}") ;;
	run) wanted+=("${run[@]}") ;;
	test) wanted+=("${test[@]}") ;;
	*)
		echo "usage: $0 [build] [run] [test]" >&2
		exit 2
		;;
	esac
done

# One dpkg-query for all: unknown packages print nothing and are missing.
declare -A ok=()
while read -r pkg status; do
	[[ $status == installed ]] && ok[$pkg]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${wanted[@]}" 2>/dev/null || true)
missing=()
for p in "${wanted[@]}"; do
	[[ -n ${ok[$p]:-} ]] || missing+=("$p")
done

# Node.js for the OpenAPI linter: asked for by command, not by package, as
# NodeSource's nodejs (which holds npm) and Debian's nodejs + npm are all fine;
# the pinned linter needs node 18.17 or later (Debian 12 has 18.19).
want_lint=0
[[ " ${groups[*]} " == *" test "* ]] && want_lint=1
if ((want_lint)); then
	command -v node >/dev/null || missing+=(nodejs)
	command -v npm >/dev/null || missing+=(npm)
fi

# npm ci when node_modules is missing or older than the lock file (npm writes
# node_modules/.package-lock.json last); as the calling user, never as root
# through sudo, so the tree stays the user's. No install scripts: neither the
# linter nor s3rver needs one.
lint_tools() {
	((want_lint)) || return 0
	local dir tool
	for tool in openapi s3; do
		dir=$(cd "$(dirname "$0")/../tools/$tool" && pwd)
		[[ $dir/node_modules/.package-lock.json -nt $dir/package-lock.json ]] && continue
		echo "deps: installing tools/$tool from npm (npm ci)" >&2
		npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error
	done
}

if ((${#missing[@]} == 0)); then
	lint_tools
	exit 0
fi

echo "deps: installing ${missing[*]}" >&2
if [[ $(id -u) == 0 ]]; then
	sudo=()
elif command -v sudo >/dev/null && { sudo -n true 2>/dev/null || [[ -t 0 ]]; }; then
	sudo=(sudo)
else
	cat >&2 <<MSG
deps: these Debian packages are missing: ${missing[*]}
deps: installing them needs root; run as root, or give this user sudo, or run:
    apt-get update && apt-get install -y ${missing[*]}
MSG
	exit 1
fi

# Keep package scripts from starting system services (invoke-rc.d and
# deb-systemd-invoke both ask policy-rc.d); remove the file afterwards
# only if we made it.
policy=/usr/sbin/policy-rc.d
made_policy=0
cleanup() { if ((made_policy)); then "${sudo[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
if ! "${sudo[@]}" test -e "$policy"; then
	printf '#!/bin/sh\n# scripts/deps.sh: no service starts while installing\nexit 101\n' |
		"${sudo[@]}" tee "$policy" >/dev/null
	"${sudo[@]}" chmod 0755 "$policy"
	made_policy=1
fi

apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0)
"${apt[@]}" update
"${apt[@]}" install --no-install-recommends "${missing[@]}"
echo "deps: installed ${missing[*]}" >&2
lint_tools

#!/bin/sh
# fetch-kernel.sh — download and unpack a lab kernel: the Debian package that
# linux-image-amd64 depends on (linux-image-6.1.0-N-amd64 on bookworm,
# linux-image-6.12.N+deb13-amd64 on trixie).
#
# Usage: fetch-kernel.sh CACHE_DIR [SUITE]
# Without SUITE it asks this machine's apt; with one (bookworm, trixie, …) it
# reads that suite's package lists into CACHE_DIR/apt-SUITE, apart from the
# machine's own. Prints the directory holding boot/vmlinuz-* and
# lib/modules/*; reuses it when present.
set -eu
cache=${1:?usage: fetch-kernel.sh CACHE_DIR [SUITE]}
suite=${2:-}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"

set -- # from here on "$@" holds apt's options for the suite, if any
if [ -n "$suite" ]; then
	aptdir="$cache/apt-$suite"
	mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$aptdir/sources.list"
	set -- -o "Dir::Etc::SourceList=$aptdir/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
		-o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache"
	# A day-old list is fresh enough; the kernel's name changes with point releases.
	if [ -z "$(find "$aptdir/lists" -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null)" ]; then
		apt-get "$@" update -qq >&2
	fi
fi

resolve() {
	apt-cache "$@" depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1
}
pkg=$(resolve "$@")
if [ -z "$pkg" ] && [ -z "$suite" ]; then
	apt-get update -qq >&2
	pkg=$(resolve "$@")
fi
[ -n "$pkg" ] || { echo "fetch-kernel.sh: cannot resolve linux-image-amd64${suite:+ in $suite} — is apt configured for Debian?" >&2; exit 1; }

dir="$cache/$pkg"
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi
tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get "$@" download -q "$pkg" >&2)
dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/root"
rm -rf "$dir"
mv "$tmp/root" "$dir"
touch "$dir/.complete"
echo "$dir"

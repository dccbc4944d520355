#!/bin/sh
# fetch-kernel.sh — download and unpack the lab kernel: the Debian package that
# linux-image-amd64 depends on (linux-image-6.1.0-N-amd64 on bookworm).
#
# Usage: fetch-kernel.sh CACHE_DIR
# Prints the directory holding boot/vmlinuz-* and lib/modules/*; reuses it when present.
set -eu
cache=${1:?usage: fetch-kernel.sh CACHE_DIR}
mkdir -p "$cache"

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)
if [ -z "$pkg" ]; then
	apt-get update -qq >&2
	pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)
fi
[ -n "$pkg" ] || { echo "fetch-kernel.sh: cannot resolve linux-image-amd64 — is apt configured for Debian bookworm?" >&2; exit 1; }

dir="$cache/$pkg"
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi
tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q "$pkg" >&2)
dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/root"
rm -rf "$dir"
mv "$tmp/root" "$dir"
touch "$dir/.complete"
echo "$dir"

#!/bin/sh
# own-kernel.sh — lay out a kernel from outside the lab cache (this
# machine's own, or one from a guest image) the way fetch-kernel.sh lays out
# Debian's package, so that the lab can prove the wipe on it.
#
# Usage: own-kernel.sh CACHE_DIR KERNEL [MODULES]
#   KERNEL   a bzImage named vmlinuz-RELEASE, e.g. /boot/vmlinuz-$(uname -r)
#   MODULES  its modules directory (default /lib/modules/RELEASE); without
#            it the lab's crypt scenarios cannot load dm-crypt
# Prints CACHE_DIR/own-RELEASE, which links to both (nothing is copied).
set -eu
cache=${1:?usage: own-kernel.sh CACHE_DIR KERNEL [MODULES]}
kernel=${2:?usage: own-kernel.sh CACHE_DIR KERNEL [MODULES]}
[ -r "$kernel" ] || { echo "own-kernel.sh: cannot read $kernel" >&2; exit 1; }
kernel=$(readlink -f "$kernel")
release=${kernel##*/vmlinuz-}
[ "$release" != "$kernel" ] || { echo "own-kernel.sh: $kernel is not named vmlinuz-RELEASE" >&2; exit 1; }
modules=${3:-/lib/modules/$release}
dir="$cache/own-$release"
rm -rf "$dir"
mkdir -p "$dir/boot" "$dir/lib/modules"
ln -s "$kernel" "$dir/boot/vmlinuz-$release"
if [ -d "$modules" ]; then
	ln -s "$(readlink -f "$modules")" "$dir/lib/modules/$release"
else
	echo "own-kernel.sh: no modules at $modules: the crypt scenarios will fail (give MODULES=)" >&2
fi
echo "$dir"

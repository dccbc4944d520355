#!/bin/sh
# build-image.sh CACHE [dracut] [SUITE] — the full-system lab's Debian guest
# (SUITE bookworm, the default, or trixie), built from Debian's packages with
# debootstrap into CACHE/fullsys-<recipe hash>/ (fullsys-dracut-<hash>/ with
# dracut; fullsys-trixie-<hash>/, fullsys-trixie-dracut-<hash>/ on trixie):
#   root.img     ext4 root file system (made with mkfs.ext4 -d: no loop devices)
#   vmlinuz      the guest's kernel, initrd.img its initramfs (direct boot)
# and prints that directory. A changed recipe (this file) builds a new one;
# an unchanged one is reused. Runs as root; needs debootstrap and e2fsprogs.
#
# The guest: systemd, udev, cryptsetup (a LUKS2 volume /dev/vdb is opened as
# "data" from /etc/crypttab at boot and mounted on /data when it has a file
# system), linux-image-amd64, no network, and a lab shell on ttyS0 that runs
# each line it reads and answers "LAB RC <status>".
#
# With dracut the guest's initramfs is made by dracut (generic, not
# host-only) instead of initramfs-tools, as on Fedora-like and Kicksecure
# systems: apt installs dracut over initramfs-tools in the chroot, and its
# dracut-shutdown.service unpacks the initramfs to /run/initramfs for
# systemd-shutdown to switch into at the end of a shutdown.
set -eu
cache=$1
shift
flavour=
suite=bookworm
for a in "$@"; do
	case $a in
	"") ;;
	dracut) flavour=dracut ;;
	bookworm | trixie) suite=$a ;;
	*) echo "build-image.sh: unknown flavour or suite '$a' (want dracut, bookworm or trixie)" >&2; exit 2 ;;
	esac
done
name=fullsys
[ "$suite" = bookworm ] || name=$name-$suite
[ -z "$flavour" ] || name=$name-$flavour
# Debian 13 moved systemd-cryptsetup (crypttab at boot) out of systemd. It
# also gets D-Bus, as every desktop has it: from systemd 255 on, systemctl
# reboot asks logind (over D-Bus) to kexec whenever a kernel is loaded;
# without a bus systemctl starts reboot.target itself, a plain reboot, and
# the lab would not see what users get.
extra=
[ "$suite" = bookworm ] || extra=,systemd-cryptsetup,dbus
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
hash=$(cat "$0" | sha256sum | cut -c1-12)
out=$cache/$name-$hash
# One build at a time: labs in other work trees share the cache.
mkdir -p "$cache"
exec 9>"$cache/fullsys.lock"
flock 9
if [ -f "$out/done" ]; then
	echo "$out"
	exit 0
fi
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
root=$out.tmp/root
echo "build-image: debootstrap $suite into $root (a few minutes)" >&2
debootstrap --variant=minbase \
	--include=systemd,systemd-sysv,udev,kmod,cryptsetup,e2fsprogs,linux-image-amd64,procps,apt$extra \
	"$suite" "$root" "$mirror" >&2

echo ramwipe-lab > "$root/etc/hostname"
cat > "$root/etc/fstab" <<'FSTAB'
/dev/vda / ext4 errors=remount-ro 0 1
/dev/mapper/data /data ext4 nofail,x-systemd.device-timeout=20s 0 2
FSTAB
mkdir -p "$root/data" "$root/etc/ramwipe-lab"
printf %s ramwipe-lab-passphrase > "$root/etc/ramwipe-lab/data.pass"
chmod 600 "$root/etc/ramwipe-lab/data.pass"
echo "data /dev/vdb /etc/ramwipe-lab/data.pass luks,nofail" > "$root/etc/crypttab"

cat > "$root/usr/local/sbin/lab-shell" <<'SHELL'
#!/bin/bash
# The lab's console: runs each line from ttyS0, then says "LAB RC <status>".
echo "LAB SHELL up $(cut -d' ' -f1 /proc/uptime)"
while IFS= read -r line; do
	eval "$line" 2>&1
	echo "LAB RC $?"
done
SHELL
chmod 755 "$root/usr/local/sbin/lab-shell"
cat > "$root/etc/systemd/system/lab-shell.service" <<'UNIT'
[Unit]
Description=ramwipe lab shell on ttyS0
After=multi-user.target

[Service]
ExecStart=/usr/local/sbin/lab-shell
StandardInput=tty
StandardOutput=tty
TTYPath=/dev/ttyS0
TTYReset=no
TTYVHangup=no
Restart=always

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/lab-shell.service "$root/etc/systemd/system/multi-user.target.wants/lab-shell.service"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
# Nothing to wait for: no network in the lab.
ln -sf /dev/null "$root/etc/systemd/system/systemd-networkd-wait-online.service"
chroot "$root" passwd -d root >/dev/null

if [ "$flavour" = dracut ]; then
	echo "build-image: apt-get install dracut (replaces initramfs-tools)" >&2
	echo "deb $mirror $suite main" > "$root/etc/apt/sources.list"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	mkdir -p "$root/etc/dracut.conf.d"
	echo 'hostonly="no"' > "$root/etc/dracut.conf.d/ramwipe-lab.conf"
	mount -t proc proc "$root/proc"
	mount --bind /dev "$root/dev"
	mount -t sysfs sysfs "$root/sys"
	trap 'umount "$root/proc" "$root/dev" "$root/sys" 2>/dev/null || true' EXIT
	chroot "$root" apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends dracut >&2
	if chroot "$root" dpkg-query -W -f '${Status}' initramfs-tools 2>/dev/null | grep -q ' installed'; then
		echo "build-image: initramfs-tools is still installed beside dracut" >&2
		exit 1
	fi
	umount "$root/proc" "$root/dev" "$root/sys"
	trap - EXIT
	rm -f "$root/etc/resolv.conf"
	rm -rf "$root"/var/lib/apt/lists/*_Packages
fi

cp "$root"/boot/vmlinuz-* "$out.tmp/vmlinuz"
cp "$root"/boot/initrd.img-* "$out.tmp/initrd.img"
rm -f "$root"/var/cache/apt/archives/*.deb
echo "build-image: mkfs.ext4 -d" >&2
mkfs.ext4 -q -F -L labroot -d "$root" "$out.tmp/root.img" 2G >&2
rm -rf "$root"
touch "$out.tmp/done"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "$out"

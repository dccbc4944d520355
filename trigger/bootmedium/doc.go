// Package bootmedium finds the devices the running system was booted from
// and tells when one of them goes away.
//
// [Resolve] reads /proc/self/mountinfo for / and /boot, follows each
// mount's block device through /sys/dev/block down its stack — dm and md
// slaves, loop devices to their backing file's mount, an overlay root to
// its layers (live systems) — to the physical partitions and disks, and
// reports for each whether it is removable (below a USB device, an SD card,
// or removable=1) as a [Medium]. [Options.KillCords] adds devices by
// /dev/disk/by-id/… path or by devpath. Fixed disks are reported but
// watched only with [Options.WatchFixed].
//
// [Matcher] decides, per kernel uevent, whether a watched device went away:
// a "remove" of the device or of any device above it (its disk, USB
// device, hub, controller — compared by whole path components), or a
// "change" with DISK_MEDIA_CHANGE=1 of its disk whose size is now 0.
// Every other event is ignored, including removals of virtual devices
// (dm, loop: systemd removes them at shutdown) and uevents the kernel
// synthesised on request (SYNTH_UUID, `udevadm trigger --action=remove`).
//
// # Suspend and resume
//
// Across suspend the USB core keeps devices that are still plugged in
// (USB "persist", on by default): a stick that stayed in sends no remove
// on resume, and a card reader that revalidates its medium sends a media
// change with a non-zero size, which the Matcher ignores. A remove after
// resume therefore means the device really went — pulled while the machine
// slept, or failed to come back — and the filesystem on it is dead either
// way, so the Matcher fires. For hardware that re-enumerates USB on every
// resume anyway, [Matcher.Hold] is the seam: a caller that learns of a
// resume (logind's PrepareForSleep, a system-sleep hook) holds removals for
// a few seconds, gets [Deferred] instead of [Gone], and afterwards asks
// [Matcher.Missing] whether the devices are back at the same paths.
//
// Needs: Linux with sysfs and procfs mounted; no privilege to resolve or
// match. Events come from package uevent.
//
// Not guaranteed: a medium whose removal the kernel does not report (a
// network root, a RAM-only live system: nothing is watched) triggers
// nothing; a device renamed by a "move" uevent is not followed. An md
// RAID1 member is watched like any device, although the array survives its
// loss. /boot is watched like /: with a separate USB "boot key" that stays
// mounted, pulling it triggers. If uevents were lost ([uevent.ErrOverrun])
// a removal may be among them: call [Matcher.Missing].
package bootmedium

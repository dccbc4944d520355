// Package dmcrypt erases the master keys of every dm-crypt device through
// device-mapper ioctls on /dev/mapper/control.
//
// [Eraser.EraseKeys] suspends each device that has crypt targets (without
// flushing and without freezing its filesystem, so a dead disk cannot block
// it) and sends every crypt target the message "key wipe". The kernel then
// overwrites the key, re-keys every cipher instance (the expanded AES key
// schedules), frees the key string with kfree_sensitive, and refuses to
// resume the device. It never asks device-mapper for a table (with
// DM_STATUS_TABLE_FLAG dm-crypt prints the key in hex); it reads only the
// target types and sector ranges.
//
// Needs: root (CAP_SYS_ADMIN) and dm-mod. Not guaranteed: copies of the key
// that the kernel or cryptsetup left in freed memory are not touched — the
// RAM wipe is still needed; a device stuck in the kernel may never return
// from its ioctl ([Eraser.EraseKeys] gives up waiting at its deadline).
package dmcrypt

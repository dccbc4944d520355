// Package dmcrypt erases the master keys of every dm-crypt device through
// device-mapper ioctls, the way cryptsetup luksSuspend does, but for all
// devices at once and without waiting on the disks.
//
// [Open] opens /dev/mapper/control when the daemon arms; [Eraser.Devices]
// lists the devices that have crypt targets (names, UUIDs, target sectors).
// [Eraser.Erase] erases those, and the ones it finds listing again (a
// volume unlocked after arming), each device in its own goroutine:
// DM_DEV_SUSPEND with DM_SUSPEND_FLAG|DM_NOFLUSH_FLAG|DM_SKIP_LOCKFS_FLAG
// (no flush, no filesystem freeze: a dead disk must not hold it), then the
// message "key wipe" (DM_TARGET_MSG with DM_SECURE_DATA_FLAG) to each crypt
// target. dm-crypt then overwrites the key with random bytes, re-keys its
// ciphers with them, frees and zeroes its copies, and refuses to resume. A
// failure never stops the other devices or targets; the [Report] says, per
// device, what succeeded, what failed and how long it took.
// [Eraser.EraseKeys] is the same as an error, for wipe.KeyEraser.
//
// Targets are found with DM_TABLE_STATUS without DM_STATUS_TABLE_FLAG: the
// package never asks for a table (dm-crypt would print its key in it), and
// the request encoder refuses that flag.
//
// After [Open], no call opens or reads a file; the ioctls work on memory
// only. Erase allocates small buffers (memory, not I/O).
//
// Needs: Linux with dm-mod, root (CAP_SYS_ADMIN for every device-mapper
// ioctl), and an ioctl interface of major version 4 (every Linux since
// 2.6). In a test binary (testing.Testing) [Open] refuses with [ErrInTest],
// and so do the suspend and message ioctls: no go test can freeze this
// machine's disks.
//
// Not guaranteed:
//   - Memory is not clean afterwards. dm-crypt erases its live key and
//     cipher state, but copies of the raw or hex key in buffers the kernel
//     freed earlier (table loads, the keyring payload, cryptsetup's own
//     memory) stay in RAM until overwritten: the RAM wipe is still needed.
//   - A device whose suspend blocks (I/O in flight to a device that no
//     longer answers, or a crypt device stacked on another crypt device
//     that was suspended first) is reported as timed out at the deadline
//     ([Eraser.Timeout], or the context's if sooner) and its key stays.
//     The goroutine stays blocked in the ioctl; it cannot be killed.
//   - Only targets of type "crypt" are erased: keys of dm-integrity
//     (journal, HMAC), of kernel keyrings (see package keyring) and of
//     filesystems (fscrypt) are not touched.
//   - A suspended device holds every process that touches it: after Erase,
//     the caller must do no file I/O on those disks (ramwiped kexecs or
//     powers off next).
package dmcrypt

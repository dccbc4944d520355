// Package keyring invalidates the secret keys in the kernel keyrings: the
// disk-encryption keys that cryptsetup and systemd keep there, and every
// other key whose payload is a secret.
//
// Those are LUKS2 volume keys, which cryptsetup loads into the kernel as
// type logon, description "cryptsetup:<uuid>-d<digest>", and which
// crypttab's link-volume-key= (systemd 256 and later) or cryptsetup's
// --link-vk-to-keyring link under any description and as logon or user
// keys; the passphrase that systemd caches in root's user keyring as type
// user, description "cryptsetup" (see [Key.Disk]); and any other logon,
// user, encrypted, trusted or big_key key ([Key.Secret]): a panic ends the
// system, so no key's loss matters, while a key left behind may be a disk
// key under a name no list foresaw. [Parse] reads /proc/keys;
// [Sweeper.Sweep] calls keyctl(KEYCTL_INVALIDATE) on every such key
// (KEYCTL_REVOKE on one it may write but not search), never stopping at a
// failure, then waits (bounded) until the kernel no longer lists them —
// except the kernel's own keys (no Q flag in /proc/keys, such as the block
// layer's SED-OPAL "opal-boot-pin"), which it invalidates but does not wait
// for, since the kernel's reference keeps them. systemd's "invocation_id"
// user keys are no secret and are left alone.
// [Open] opens /proc/keys when arming, so that a sweep opens no file and
// touches no disk (procfs answers a pread of the open file from kernel
// memory).
//
// Needs: Linux with CONFIG_KEYS; root, to see and invalidate root's keys
// (/proc/keys lists only the keys the caller may view; KEYCTL_INVALIDATE
// needs search permission on the key). In a test binary (testing.Testing)
// the real keyctl calls refuse with [ErrInTest].
//
// Not guaranteed: keys that this process may not view, or neither search
// nor write (another user's keys without those permissions, keys in another
// user namespace, a volume key left in the thread keyring of a cryptsetup
// process whose credentials outlive it, as a loop device opened by that
// process holds them) are not taken out; the sweep's error names them. The kernel frees a revoked payload after an RCU
// grace period and destroys an invalidated key from its garbage
// collector's work item, both asynchronously: the sweep waits for the key
// to vanish from /proc/keys for up to [Sweeper.GCWait] and says so if it
// did not (the RAM wipe that follows erases it anyway); copies of the
// same secret elsewhere (dm-crypt's own key, see package dmcrypt;
// cryptsetup's or systemd's freed memory) are not touched: the RAM wipe is
// still needed.
package keyring

// Package wipe is the panic sequence: what runs between "a trigger fired"
// and "the wipe kernel is running".
//
// [Sequence.Run] erases the dm-crypt master keys, invalidates the LUKS2
// keys in the kernel keyrings, and reboots into the preloaded wipe image
// with kexec; if that returns, it powers the machine off. No step stops the
// ones after it, and the last step always happens. The steps are small
// interfaces ([KeyEraser], [KeyringSweeper], [Machine]) so tests fake them;
// the real ones live in the subpackages dmcrypt, keyring and kexec, and
// [Real] builds the real [Machine], which refuses to act in a test binary.
//
// The sequence does no file I/O of its own: everything it touches was
// opened when the daemon armed (the root disk may be suspended the moment
// its key is gone). It does not guarantee that a step finishes: a step that
// blocks past its deadline is abandoned, not killed.
package wipe

// Package initramfs defines the wipe image's contract between the loader
// (ramwiped, the shutdown hook, the lab) and the wipe /init.
//
// The contract is a kernel command line. [DefaultCmdline] is what a loader
// passes beside the image (besides console=); the /init reads its own
// parameters back with [ParseCmdline]: ramwipe.action=poweroff|reboot|halt,
// ramwipe.quiet, ramwipe.heldmap, ramwipe.skip, ramwipe.deadline=DURATION,
// ramwipe.workers=N,
// ramwipe.pattern=zero|0xNN.
//
// The reproducible cpio archive that carries the /init is written by
// [github.com/ramwipe/ramwipe/initramfs/archive], a package of its own so
// that the loaders do not link the cpio writer. The /init itself lives in
// [github.com/ramwipe/ramwipe/initramfs/wipeinit].
package initramfs

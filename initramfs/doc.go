// Package initramfs defines the wipe image: the contract between the loader
// (ramwiped, the shutdown hook, the lab) and the wipe /init, and the builder of
// the reproducible cpio archive that carries the /init.
//
// The contract is a kernel command line. [DefaultCmdline] is what a loader
// passes beside the image (besides console=); the /init reads its own
// parameters back with [ParseCmdline]: ramwipe.action=poweroff|reboot|halt,
// ramwipe.quiet, ramwipe.heldmap, ramwipe.skip, ramwipe.deadline=DURATION,
// ramwipe.workers=N,
// ramwipe.pattern=zero|0xNN.
//
// [Build] writes the archive; the same inputs always give byte-identical
// output. The /init itself lives in [github.com/ramwipe/ramwipe/initramfs/wipeinit].
package initramfs

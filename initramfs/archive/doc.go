// Package archive writes the wipe image's archive: a reproducible newc cpio
// ([Build]) holding the /init and what else it is given. Only the image
// build and the lab use it; the loaders (ramwiped, the shutdown hook) need
// just the contract in [github.com/ramwipe/ramwipe/initramfs], and do not
// link u-root's cpio.
package archive

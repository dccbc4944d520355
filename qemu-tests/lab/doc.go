// Package lab boots QEMU guests under TCG, plants secrets in them, triggers
// a wipe, and proves from dumps of guest RAM what survived.
//
// Guest RAM is a memory-backend-file in /dev/shm shared with QEMU, so a dump
// is the file itself: [Scan] reads it while the guest is stopped (the
// pre-trigger dump, the positive control) and after QEMU exited (the post
// dump). Every scenario of the lab also has a negative control, a kexec into
// an image that wipes nothing, which must keep the canaries: a lab that
// cannot see a failed wipe proves nothing.
//
// The scanner also gives every page a [Class], which [DrawMap] draws as a
// physical memory map (package chart puts two in a labelled figure); [BenchReport] is what the lab's
// benchmark (cmd/lab -bench, make bench) records.
//
// Needs: qemu-system-x86_64, a Debian lab kernel (fetch-kernel.sh), and
// about the guest's RAM size free in /dev/shm. Nothing here touches the
// machine it runs on beyond starting QEMU.
package lab

// Package kexec loads a kernel and initramfs for a later kexec reboot with
// kexec_file_load(2), and tells what is loaded.
//
// Only kexec_file_load is used: under Secure Boot lockdown the kernel refuses
// kexec_load, but accepts kexec_file_load of a kernel signed by a key it
// trusts (the initramfs and command line are not checked).
//
// Needs: root (CAP_SYS_BOOT), CONFIG_KEXEC_FILE, and
// kernel.kexec_load_disabled=0 at load time.
// Loading does not reboot; [Exec] does, and only returns on failure. In a
// test binary (testing.Testing) Load, Unload and Exec refuse with [ErrInTest],
// so no go test can replace this machine's kexec image or reboot it.
package kexec

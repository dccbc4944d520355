// Package readiness audits how well this machine resists a cold-boot
// attack, and what ramwipe can and cannot do about it.
//
// [Audit] reads /proc, /sys and /etc and returns a [Report]: one [Finding]
// per question — can the kernel still kexec the wipe image (kexec loaded,
// kernel.kexec_load_disabled, lockdown, Secure Boot); do disks unlock
// without their owner (TPM2 without a PIN, clevis); is swap encrypted; is
// hibernation configured; is a crash kernel loaded; are disk keys in the
// kernel keyrings; do the attached keyboards have every key of the panic
// chord; does suspend keep unlocked disks' keys in RAM (ramwipe.conf's
// on_suspend, cryptsetup-suspend, the RTC wake alarm). Each finding has a
// [Severity], says what was found in one line and what to do about it.
//
// Needs: Linux with procfs and sysfs mounted. Nothing needs root: as
// another user the audit reads what it can (/proc/keys then lists only
// the caller's keys, /etc/crypttab may be unreadable) and says in an
// [Info] finding what it could not read. ramwiped need not run.
//
// Strictly read-only: the package opens files for reading and calls
// stat(2); it never writes, loads, suspends or unlocks anything.
//
// Not guaranteed: the audit sees configuration, not every way a machine
// can leak keys. A TPM2 token enrolled with a PIN is recognised only by
// crypttab's tpm2-pin option (the LUKS2 header itself is not read); clevis
// is recognised by its initramfs hook; keyboards are those the kernel's
// input layer lists now; a finding of [OK] means the audit found nothing
// wrong, not that nothing is.
package readiness

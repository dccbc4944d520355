package readiness

import (
	"errors"
	"io/fs"
	"strings"
)

// Files of the kexec checks.
const (
	kexecLoaded       = "/sys/kernel/kexec_loaded"
	kexecCrashLoaded  = "/sys/kernel/kexec_crash_loaded"
	kexecLoadDisabled = "/proc/sys/kernel/kexec_load_disabled"
	lockdownFile      = "/sys/kernel/security/lockdown"
	efiDir            = "/sys/firmware/efi"
	// secureBootVar is the EFI global variable SecureBoot
	// (EFI_GLOBAL_VARIABLE 8be4df61-…): efivarfs shows 4 bytes of
	// attributes, then the value, 1 byte: 1 on, 0 off.
	secureBootVar = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
)

// kexec: can a trigger still kexec into the wipe image?
func (a *auditor) kexec() {
	loaded, err := a.readTrim(kexecLoaded)
	if errors.Is(err, fs.ErrNotExist) {
		a.add(CheckKexec, Fail, "boot a kernel built with CONFIG_KEXEC_FILE (Debian's linux-image-amd64 is)",
			"no %s: this kernel cannot kexec (or /sys is not the host's): a trigger can erase the disk keys but not wipe memory", kexecLoaded)
		return
	}
	if err != nil {
		a.unreadable(CheckKexec, kexecLoaded, err)
		return
	}
	disabled, derr := a.readTrim(kexecLoadDisabled)
	locked := derr == nil && disabled == "1"
	switch {
	case loaded == "1" && locked:
		a.add(CheckKexec, OK, "",
			"a kexec image is loaded and kernel.kexec_load_disabled=1 keeps it until reboot (ramwipe status tells whether it is ramwiped's)")
	case loaded == "1":
		a.add(CheckKexec, OK, "",
			"a kexec image is loaded (ramwipe status tells whether it is ramwiped's)")
	case locked:
		a.add(CheckKexec, Fail,
			"find what sets it (grep -r kexec_load_disabled /etc/sysctl.conf /etc/sysctl.d /usr/lib/sysctl.d), remove it, and reboot; to lock kexec after arming set lock_kexec = yes in ramwipe.conf instead",
			"kernel.kexec_load_disabled=1 and no kexec image is loaded: no wipe is possible until reboot")
	default:
		a.add(CheckKexec, Warn,
			"start ramwiped (systemctl enable --now ramwiped), then ramwipe status",
			"no kexec image is loaded: nothing would wipe memory on a trigger now")
		if derr != nil && !errors.Is(derr, fs.ErrNotExist) {
			a.unreadable(CheckKexec, kexecLoadDisabled, derr)
		}
	}
}

// lockdown: with the kernel locked down kexec_file_load takes signed
// kernels only.
func (a *auditor) lockdown() {
	s, err := a.readTrim(lockdownFile)
	if errors.Is(err, fs.ErrNotExist) {
		a.add(CheckLockdown, OK, "", "no kernel lockdown (%s absent): kexec_file_load takes any kernel", lockdownFile)
		return
	}
	if err != nil {
		a.unreadable(CheckLockdown, lockdownFile, err)
		return
	}
	mode, ok := bracketed(s)
	switch {
	case !ok:
		a.add(CheckLockdown, Info, "", "kernel lockdown state %q not understood", s)
	case mode == "none":
		a.add(CheckLockdown, OK, "", "kernel lockdown is off: kexec_file_load takes any kernel")
	default:
		a.add(CheckLockdown, Info,
			"keep ramwipe.conf's kernel a signed kernel (Debian's packaged kernels are); a self-built kernel cannot be armed",
			"kernel lockdown is %s: kexec_file_load takes only kernels signed by a key the kernel trusts, and hibernation is off", mode)
	}
}

// lockedDown reports whether the kernel is in lockdown (integrity or
// confidentiality), which also disables hibernation.
func (a *auditor) lockedDown() bool {
	s, err := a.readTrim(lockdownFile)
	mode, ok := bracketed(s)
	return err == nil && ok && mode != "none"
}

// bracketed returns the word in brackets of a sysfs choice list such as
// "none [integrity] confidentiality".
func bracketed(s string) (string, bool) {
	for w := range strings.FieldsSeq(s) {
		if len(w) > 2 && w[0] == '[' && w[len(w)-1] == ']' {
			return w[1 : len(w)-1], true
		}
	}
	return "", false
}

// secureBoot reports the firmware's Secure Boot state, for the record:
// with it, Debian's kernels lock themselves down.
func (a *auditor) secureBoot() {
	if !a.exists(efiDir) {
		a.add(CheckSecureBoot, Info, "", "not booted through UEFI: no Secure Boot")
		return
	}
	b, err := a.read(secureBootVar)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		a.add(CheckSecureBoot, Info, "", "the firmware has no SecureBoot variable (efivarfs not mounted, or no Secure Boot support)")
	case err != nil:
		a.unreadable(CheckSecureBoot, secureBootVar, err)
	case len(b) != 5 || b[4] > 1:
		a.add(CheckSecureBoot, Info, "", "SecureBoot variable not understood (%d bytes)", len(b))
	case b[4] == 1:
		a.add(CheckSecureBoot, Info, "", "Secure Boot is on: only signed kernels can be kexec'd")
	default:
		a.add(CheckSecureBoot, Info, "", "Secure Boot is off")
	}
}

// kdump: a loaded crash kernel dumps memory, keys included, to disk.
func (a *auditor) kdump() {
	s, err := a.readTrim(kexecCrashLoaded)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		a.add(CheckKdump, OK, "", "no crash kernel support (%s absent)", kexecCrashLoaded)
	case err != nil:
		a.unreadable(CheckKdump, kexecCrashLoaded, err)
	case s == "1":
		a.add(CheckKdump, Warn,
			"unless you need crash dumps: systemctl disable --now kdump-tools (or kdump), and drop crashkernel= from the kernel command line",
			"a crash kernel is loaded (kdump): a kernel crash writes all of memory, disk keys included, to disk")
	default:
		a.add(CheckKdump, OK, "", "no crash kernel is loaded")
	}
}

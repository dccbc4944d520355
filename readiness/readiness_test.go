package readiness

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkCase is a fake tree and what one check must find in it.
type checkCase struct {
	name  string
	setup func(tr *tree)
	opts  Options    // Privileged unless the name starts "not root"
	want  []Severity // the check's findings, in order
	what  string     // in the first finding's What
	do    string     // in the first finding's Do
}

func runChecks(t *testing.T, check string, tests []checkCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTree(t)
			if tt.setup != nil {
				tt.setup(tr)
			}
			opts := tt.opts
			if opts.Config == "" {
				opts.Config = DefaultConfig
			}
			opts.Privileged = !strings.HasPrefix(tt.name, "not root")
			r := audit(tr.root, opts)
			got := only(r, check)
			var sevs []Severity
			for _, f := range got {
				sevs = append(sevs, f.Severity)
				assert.NotEmpty(t, f.What)
				assert.NotContains(t, f.What+f.Do, tr.root, "findings name paths as on the machine")
				if f.Severity >= Warn {
					assert.NotEmpty(t, f.Do, "a %v finding says what to do: %s", f.Severity, f.What)
				}
			}
			require.Equal(t, tt.want, sevs, "%s findings: %+v", check, got)
			assert.Contains(t, got[0].What, tt.what)
			assert.Contains(t, got[0].Do, tt.do)
		})
	}
}

func TestKexec(t *testing.T) {
	runChecks(t, CheckKexec, []checkCase{
		{name: "no kexec in the kernel", want: []Severity{Fail}, what: "cannot kexec", do: "CONFIG_KEXEC_FILE"},
		{name: "loaded", setup: func(tr *tree) {
			tr.file(kexecLoaded, "1\n")
			tr.file(kexecLoadDisabled, "0\n")
		}, want: []Severity{OK}, what: "a kexec image is loaded"},
		{name: "loaded and locked", setup: func(tr *tree) {
			tr.file(kexecLoaded, "1\n")
			tr.file(kexecLoadDisabled, "1\n")
		}, want: []Severity{OK}, what: "keeps it until reboot"},
		{name: "locked with nothing loaded", setup: func(tr *tree) {
			tr.file(kexecLoaded, "0\n")
			tr.file(kexecLoadDisabled, "1\n")
		}, want: []Severity{Fail}, what: "no wipe is possible until reboot", do: "sysctl.d"},
		{name: "nothing loaded", setup: func(tr *tree) {
			tr.file(kexecLoaded, "0\n")
			tr.file(kexecLoadDisabled, "0\n")
		}, want: []Severity{Warn}, what: "no kexec image is loaded", do: "systemctl enable --now ramwiped"},
		{name: "unreadable", setup: func(tr *tree) {
			tr.dir(kexecLoaded) // reading a directory fails
		}, want: []Severity{Info}, what: "could not read /sys/kernel/kexec_loaded"},
	})
}

func TestLockdown(t *testing.T) {
	runChecks(t, CheckLockdown, []checkCase{
		{name: "no securityfs", want: []Severity{OK}, what: "no kernel lockdown"},
		{name: "none", setup: func(tr *tree) {
			tr.file(lockdownFile, "[none] integrity confidentiality\n")
		}, want: []Severity{OK}, what: "lockdown is off"},
		{name: "integrity", setup: func(tr *tree) {
			tr.file(lockdownFile, "none [integrity] confidentiality\n")
		}, want: []Severity{Info}, what: "lockdown is integrity: kexec_file_load takes only kernels signed", do: "signed kernel"},
		{name: "confidentiality", setup: func(tr *tree) {
			tr.file(lockdownFile, "none integrity [confidentiality]\n")
		}, want: []Severity{Info}, what: "lockdown is confidentiality"},
		{name: "garbled", setup: func(tr *tree) {
			tr.file(lockdownFile, "what\n")
		}, want: []Severity{Info}, what: "not understood"},
	})
}

func TestSecureBoot(t *testing.T) {
	runChecks(t, CheckSecureBoot, []checkCase{
		{name: "BIOS boot", want: []Severity{Info}, what: "not booted through UEFI"},
		{name: "on", setup: func(tr *tree) {
			tr.file(secureBootVar, "\x06\x00\x00\x00\x01")
		}, want: []Severity{Info}, what: "Secure Boot is on"},
		{name: "off", setup: func(tr *tree) {
			tr.file(secureBootVar, "\x06\x00\x00\x00\x00")
		}, want: []Severity{Info}, what: "Secure Boot is off"},
		{name: "no variable", setup: func(tr *tree) {
			tr.dir(efiDir)
		}, want: []Severity{Info}, what: "no SecureBoot variable"},
		{name: "garbled", setup: func(tr *tree) {
			tr.file(secureBootVar, "\x06\x00")
		}, want: []Severity{Info}, what: "not understood"},
	})
}

func TestKdump(t *testing.T) {
	runChecks(t, CheckKdump, []checkCase{
		{name: "crash kernel loaded", setup: func(tr *tree) {
			tr.file(kexecCrashLoaded, "1\n")
		}, want: []Severity{Warn}, what: "a crash kernel is loaded", do: "crashkernel="},
		{name: "not loaded", setup: func(tr *tree) {
			tr.file(kexecCrashLoaded, "0\n")
		}, want: []Severity{OK}, what: "no crash kernel is loaded"},
		{name: "no support", want: []Severity{OK}, what: "no crash kernel support"},
	})
}

func TestUnattendedUnlock(t *testing.T) {
	runChecks(t, CheckUnattended, []checkCase{
		{name: "no crypttab", want: []Severity{OK}},
		{name: "passphrase", setup: func(tr *tree) {
			tr.file(crypttabFile, "# <target> <source> <key> <options>\nsda3_crypt UUID=1234 none luks,discard\n")
		}, want: []Severity{OK}, what: "no volume"},
		{name: "tpm2 without a pin", setup: func(tr *tree) {
			tr.file(crypttabFile, "\nroot UUID=1234 none tpm2-device=auto,discard\n")
		}, want: []Severity{Warn}, what: "/etc/crypttab:2: root unlocks by TPM2", do: "--tpm2-with-pin=yes UUID=1234"},
		{name: "tpm2 with a pin", setup: func(tr *tree) {
			tr.file(crypttabFile, "root UUID=1234 - tpm2-device=auto,tpm2-pin=yes\n")
		}, want: []Severity{OK}},
		{name: "tpm2 pin switched off again", setup: func(tr *tree) {
			tr.file(crypttabFile, "root UUID=1234 - tpm2-pin=yes,tpm2-device=/dev/tpmrm0,tpm2-pin=no\n")
		}, want: []Severity{Warn}},
		{name: "tpm2 on the kernel command line", setup: func(tr *tree) {
			tr.file(cmdlineFile, "BOOT_IMAGE=/vmlinuz root=/dev/mapper/root rd.luks.options=tpm2-device=auto quiet\n")
		}, want: []Severity{Warn}, what: "rd.luks.options=tpm2-device=auto"},
		{name: "fido2 is no finding", setup: func(tr *tree) {
			tr.file(crypttabFile, "root UUID=1234 - fido2-device=auto\n")
		}, want: []Severity{OK}},
		{name: "clevis initramfs hook", setup: func(tr *tree) {
			tr.file("/usr/share/initramfs-tools/hooks/clevis", "#!/bin/sh\n")
		}, want: []Severity{Warn}, what: "clevis unlocks LUKS volumes at boot (/usr/share/initramfs-tools/hooks/clevis)", do: "clevis luks list"},
		{name: "clevis dracut module", setup: func(tr *tree) {
			tr.file("/usr/lib/dracut/modules.d/60clevis/module-setup.sh", "#!/bin/bash\n")
		}, want: []Severity{Warn}, what: "/usr/lib/dracut/modules.d/60clevis"},
		{name: "clevis askpass and _netdev", setup: func(tr *tree) {
			tr.file("/usr/lib/systemd/system/clevis-luks-askpass.path", "[Path]\n")
			tr.file(crypttabFile, "data /dev/sdb1 none _netdev\n")
		}, want: []Severity{Warn}, what: "data is _netdev"},
		{name: "_netdev without clevis", setup: func(tr *tree) {
			tr.file(crypttabFile, "data /dev/sdb1 none _netdev\n")
		}, want: []Severity{OK}},
		{name: "bad line", setup: func(tr *tree) {
			tr.file(crypttabFile, "lonely\nroot UUID=1 none tpm2-device=auto\n")
		}, want: []Severity{Info, Warn}, what: "line 1"},
		{name: "unreadable", setup: func(tr *tree) {
			tr.dir(crypttabFile)
		}, want: []Severity{Info, OK}, what: "could not read /etc/crypttab"},
	})
}

func TestSwap(t *testing.T) {
	const header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
	rootOn := func(majmin, source string) string {
		return "22 1 " + majmin + " / / rw,relatime shared:1 - ext4 " + source + " rw\n" +
			"23 22 0:21 / /proc rw shared:12 - proc proc rw\n"
	}
	runChecks(t, CheckSwap, []checkCase{
		{name: "no swap", setup: func(tr *tree) {
			tr.file(swapsFile, header)
		}, want: []Severity{OK}, what: "no swap in use"},
		{name: "plain partition", setup: func(tr *tree) {
			tr.disk(3)
			tr.file(swapsFile, header+"/dev/sda3                               partition\t999420\t\t0\t\t-2\n")
		}, want: []Severity{Fail}, what: "swap /dev/sda3 is not encrypted (sda3 on sda, no dm-crypt below)", do: "/dev/urandom swap"},
		{name: "dm-crypt partition", setup: func(tr *tree) {
			tr.disk(3)
			tr.dm(1, "cswap", "CRYPT-PLAIN-cswap", sda(3))
			tr.file(swapsFile, header+"/dev/dm-1 partition 999420 0 -2\n")
		}, want: []Severity{OK}, what: "swap /dev/dm-1 is encrypted (dm-crypt dm-1 (cswap))"},
		{name: "LVM on LUKS", setup: func(tr *tree) {
			tr.disk(3)
			crypt := tr.dm(0, "sda3_crypt", "CRYPT-LUKS2-6f4b1f517c344d07a6a38b01d9e3b2c1-sda3_crypt", sda(3))
			tr.dm(2, "vg-swap", "LVM-abcdef", crypt)
			tr.file(swapsFile, header+"/dev/dm-2 partition 999420 0 -2\n")
		}, want: []Severity{OK}, what: "dm-2 (vg-swap) on dm-crypt dm-0 (sda3_crypt)"},
		{name: "LVM on a plain disk", setup: func(tr *tree) {
			tr.disk(3)
			tr.dm(2, "vg-swap", "LVM-abcdef", sda(3))
			tr.file(swapsFile, header+"/dev/dm-2 partition 999420 0 -2\n")
		}, want: []Severity{Fail}, what: "dm-2 (vg-swap) on sda3"},
		{name: "integrity only", setup: func(tr *tree) {
			tr.disk(3)
			tr.dm(1, "integ", "CRYPT-INTEGRITY-integ", sda(3))
			tr.file(swapsFile, header+"/dev/dm-1 partition 999420 0 -2\n")
		}, want: []Severity{Fail}},
		{name: "file on LUKS root", setup: func(tr *tree) {
			tr.disk(2)
			tr.dm(0, "root", "CRYPT-LUKS2-1234-root", sda(2))
			tr.file(mountinfoFile, rootOn("253:0", "/dev/mapper/root"))
			tr.file(swapsFile, header+"/swap\\040file file 1048572 0 -2\n")
		}, want: []Severity{OK}, what: "swap /swap file is encrypted (a file on /: dm-crypt dm-0 (root))"},
		{name: "file on a plain root", setup: func(tr *tree) {
			tr.disk(2)
			tr.file(mountinfoFile, rootOn("8:2", "/dev/sda2"))
			tr.file(swapsFile, header+"/swapfile file 1048572 0 -2\n")
		}, want: []Severity{Fail}, what: "a file on /: sda2 on sda"},
		{name: "file on btrfs on LUKS", setup: func(tr *tree) {
			tr.disk(2)
			tr.dm(0, "root", "CRYPT-LUKS2-1234-root", sda(2))
			tr.link("/dev/mapper/root", "/dev/dm-0")
			tr.file("/dev/dm-0", "")
			tr.file(mountinfoFile, rootOn("0:31", "/dev/mapper/root")+
				"40 22 0:33 /@swap /swap rw - btrfs /dev/mapper/root rw\n")
			tr.file(swapsFile, header+"/swap/swapfile file 1048572 0 -2\n")
		}, want: []Severity{OK}, what: "a file on /swap: dm-crypt dm-0 (root)"},
		{name: "file on a loop device's file system", setup: func(tr *tree) {
			tr.disk(2)
			tr.file(mountinfoFile, rootOn("8:2", "/dev/sda2")+"41 22 7:0 / /mnt rw - ext4 /dev/loop0 rw\n")
			loop := tr.block("/sys/devices/virtual/block/loop0", "7:0")
			tr.file(loop+"/loop/backing_file", "/images/disk.img\n")
			tr.file(swapsFile, header+"/mnt/swapfile file 1048572 0 -2\n")
		}, want: []Severity{Fail}, what: "loop0 backed by a file on /: sda2"},
		{name: "zram", setup: func(tr *tree) {
			tr.block("/sys/devices/virtual/block/zram0", "252:0")
			tr.file(swapsFile, header+"/dev/zram0 partition 4194300 0 100\n")
		}, want: []Severity{OK}, what: "zram"},
		{name: "unknown device", setup: func(tr *tree) {
			tr.file(swapsFile, header+"/dev/nbd0 partition 4194300 0 -2\n")
		}, want: []Severity{Info}, what: "could not tell whether swap /dev/nbd0 is encrypted"},
		{name: "file on NFS", setup: func(tr *tree) {
			tr.file(mountinfoFile, "22 1 0:40 / / rw - nfs4 server:/export rw\n")
			tr.file(swapsFile, header+"/swapfile file 1048572 0 -2\n")
		}, want: []Severity{Info}, what: "not a block device"},
		{name: "one plain, one encrypted", setup: func(tr *tree) {
			tr.disk(3)
			tr.dm(1, "cswap", "CRYPT-PLAIN-cswap", sda(3))
			tr.file(swapsFile, header+"/dev/dm-1 partition 1 0 -2\n/dev/sda2 partition 1 0 -3\n")
		}, want: []Severity{OK, Fail}},
		{name: "no swap support", want: []Severity{OK}, what: "no swap support"},
	})
}

func TestHibernation(t *testing.T) {
	const header = "Filename Type Size Used Priority\n"
	canHibernate := func(tr *tree) {
		tr.file(powerState, "freeze mem disk\n")
		tr.file(swapsFile, header)
	}
	plainSwap := func(tr *tree) {
		canHibernate(tr)
		tr.disk(3)
		tr.file(swapsFile, header+"/dev/sda3 partition 1 0 -2\n")
	}
	runChecks(t, CheckHibernation, []checkCase{
		{name: "resume= and plain swap", setup: func(tr *tree) {
			plainSwap(tr)
			tr.file(cmdlineFile, "root=/dev/mapper/root resume=UUID=abcd quiet\n")
		}, want: []Severity{Warn}, what: "resume=UUID=abcd on the kernel command line", do: "AllowHibernation=no"},
		{name: "resume= and encrypted swap", setup: func(tr *tree) {
			canHibernate(tr)
			tr.disk(3)
			tr.dm(1, "cswap", "CRYPT-LUKS2-1-cswap", sda(3))
			tr.file(swapsFile, header+"/dev/dm-1 partition 1 0 -2\n")
			tr.file(cmdlineFile, "resume=/dev/mapper/cswap\n")
		}, want: []Severity{Info}, what: "every swap area is encrypted"},
		{name: "initramfs-tools RESUME", setup: func(tr *tree) {
			plainSwap(tr)
			tr.file(initramfsResume, "RESUME=UUID=abcd\n")
		}, want: []Severity{Warn}, what: "RESUME=UUID=abcd in /etc/initramfs-tools/conf.d/resume"},
		{name: "RESUME=none", setup: func(tr *tree) {
			plainSwap(tr)
			tr.file(initramfsResume, "RESUME=none\n")
		}, want: []Severity{OK}, what: "not configured"},
		{name: "HibernateMode in sleep.conf", setup: func(tr *tree) {
			plainSwap(tr)
			tr.file("/etc/systemd/sleep.conf", "[Sleep]\nHibernateMode=shutdown\n")
		}, want: []Severity{Warn}, what: "HibernateMode=shutdown in /etc/systemd/sleep.conf"},
		{name: "AllowHibernation=no in a drop-in", setup: func(tr *tree) {
			plainSwap(tr)
			tr.file(cmdlineFile, "resume=UUID=abcd\n")
			tr.file("/etc/systemd/sleep.conf", "[Sleep]\nAllowHibernation=yes\n")
			tr.file("/etc/systemd/sleep.conf.d/no.conf", "[Sleep]\nAllowHibernation=no\n")
		}, want: []Severity{OK}, what: "AllowHibernation=no in /etc/systemd/sleep.conf.d/no.conf"},
		{name: "AllowHibernation=no but hybrid sleep allowed", setup: func(tr *tree) {
			plainSwap(tr)
			tr.file(cmdlineFile, "resume=UUID=abcd\n")
			tr.file("/etc/systemd/sleep.conf", "[Sleep]\nAllowHibernation=no\nAllowHybridSleep=yes\n")
		}, want: []Severity{Warn}, what: "AllowHybridSleep=yes"},
		{name: "an /etc drop-in hides /usr's", setup: func(tr *tree) {
			plainSwap(tr)
			tr.file(cmdlineFile, "resume=UUID=abcd\n")
			tr.file("/usr/lib/systemd/sleep.conf.d/50-x.conf", "[Sleep]\nAllowHibernation=no\n")
			tr.file("/etc/systemd/sleep.conf.d/50-x.conf", "[Sleep]\nAllowSuspend=no\n")
		}, want: []Severity{Warn}},
		{name: "not configured", setup: plainSwap, want: []Severity{OK}, what: "not configured", do: "AllowHibernation=no"},
		{name: "kernel cannot", setup: func(tr *tree) {
			tr.file(powerState, "freeze mem\n")
			tr.file(cmdlineFile, "resume=UUID=abcd\n")
		}, want: []Severity{OK}, what: "cannot hibernate"},
		{name: "nohibernate", setup: func(tr *tree) {
			plainSwap(tr)
			tr.file(cmdlineFile, "resume=UUID=abcd nohibernate\n")
		}, want: []Severity{OK}, what: "nohibernate"},
		{name: "lockdown", setup: func(tr *tree) {
			plainSwap(tr)
			tr.file(cmdlineFile, "resume=UUID=abcd\n")
			tr.file(lockdownFile, "none [integrity] confidentiality\n")
		}, want: []Severity{OK}, what: "kernel lockdown"},
		{name: "no power management", want: []Severity{OK}, what: "no power management"},
	})
}

func TestKeyring(t *testing.T) {
	const keys = `0c5aa4e9 I--Q---     1 perm 3f010000     0     0 logon     cryptsetup:6f4b1f51-7c34-4d07-a6a3-8b01d9e3b2c1-d0: 64
2e9a7f10 I--Q---     2 perm 3f030000     0     0 keyring   _ses: 1
`
	runChecks(t, CheckKeyring, []checkCase{
		{name: "volume key", setup: func(tr *tree) {
			tr.file(procKeys, keys)
		}, want: []Severity{Warn}, what: "1 disk-encryption key in the kernel keyrings (0c5aa4e9 logon", do: "ramwipe status"},
		{name: "passphrase cache", setup: func(tr *tree) {
			tr.file(procKeys, "1b2f0c33 I--Q---     1  99s 3f010000     0     0 user      cryptsetup: 19\n")
		}, want: []Severity{Warn}, what: `user "cryptsetup"`},
		{name: "none", setup: func(tr *tree) {
			tr.file(procKeys, "2e9a7f10 I--Q---     2 perm 3f030000     0     0 keyring   _ses: 1\n")
		}, want: []Severity{OK}, what: "no disk-encryption keys"},
		{name: "not root", setup: func(tr *tree) {
			tr.file(procKeys, "")
		}, want: []Severity{OK, Info}, what: "keyrings that you may view"},
		{name: "bad line", setup: func(tr *tree) {
			tr.file(procKeys, "garbage\n"+keys)
		}, want: []Severity{Info, Warn}, what: "malformed"},
		{name: "no keyrings", want: []Severity{OK}, what: "no keyrings"},
	})
}

// Key codes of input-event-codes.h.
const (
	kRightCtrl = 97
	kPause     = 119
)

// keyboardKeys are a keyboard's keys: Esc … KEY_KPDOT (1–83) cover the
// letters, both Ctrl keys only if right is set.
func keyboardKeys(right bool) []int {
	var k []int
	for i := 1; i <= 83; i++ {
		k = append(k, i)
	}
	if right {
		k = append(k, kRightCtrl)
	}
	return k
}

func TestHotkey(t *testing.T) {
	runChecks(t, CheckHotkey, []checkCase{
		{name: "keyboard has the default chord", setup: func(tr *tree) {
			tr.input(3, "AT Translated Set 2 keyboard", keyboardKeys(true)...)
		}, want: []Severity{OK}, what: "can be typed on event3 (AT Translated Set 2 keyboard)"},
		{name: "no right Ctrl", setup: func(tr *tree) {
			tr.input(3, "Apple Keyboard", keyboardKeys(false)...)
		}, want: []Severity{Warn}, what: "event3 (Apple Keyboard) lacks KEY_RIGHTCTRL", do: "ramwipe test hotkey"},
		{name: "one of two keyboards lacks a key", setup: func(tr *tree) {
			tr.input(3, "internal", keyboardKeys(false)...)
			tr.input(7, "USB keyboard", keyboardKeys(true)...)
		}, want: []Severity{Info}, what: "but event3 (internal) lacks KEY_RIGHTCTRL"},
		{name: "no keyboard", setup: func(tr *tree) {
			tr.input(4, "Power Button", 116)
		}, want: []Severity{Warn}, what: "no keyboard is attached"},
		{name: "configured chord on a panic button", setup: func(tr *tree) {
			tr.file(DefaultConfig, "# mine\nhotkey = KEY_PAUSE*3/2s\n")
			tr.input(5, "panic button", kPause)
		}, want: []Severity{OK}, what: "KEY_PAUSE*3/2s (/etc/ramwipe/ramwipe.conf:2) can be typed on event5"},
		{name: "configured chord missing", setup: func(tr *tree) {
			tr.file(DefaultConfig, "hotkey=KEY_PAUSE*3/2s\n")
			tr.input(3, "laptop", keyboardKeys(true)...)
		}, want: []Severity{Warn}, what: "laptop) lacks KEY_PAUSE"},
		{name: "off", setup: func(tr *tree) {
			tr.file(DefaultConfig, "hotkey = off\n")
		}, want: []Severity{Info}, what: "the panic hotkey is off (/etc/ramwipe/ramwipe.conf:1)"},
		{name: "bad chord", setup: func(tr *tree) {
			tr.file(DefaultConfig, "hotkey = KEY_LEFTALT+KEY_SYSRQ\n")
		}, want: []Severity{Warn}, what: "magic SysRq", do: "ramwiped -check-config"},
		{name: "unreadable device", setup: func(tr *tree) {
			tr.input(3, "kbd", keyboardKeys(true)...)
			tr.dir("/sys/class/input/event9/device/capabilities/ev")
		}, want: []Severity{Info, OK}, what: "could not be read"},
	})
}

func TestSuspend(t *testing.T) {
	unlocked := func(tr *tree) {
		tr.file(powerState, "freeze mem disk\n")
		tr.file(memSleep, "s2idle [deep]\n")
		tr.disk(3)
		tr.dm(0, "sda3_crypt", "CRYPT-LUKS2-1234-sda3_crypt", sda(3))
	}
	runChecks(t, CheckSuspend, []checkCase{
		{name: "unlocked disk, nothing erases the keys", setup: unlocked,
			want: []Severity{Warn}, what: "suspend to mem (deep) is allowed (on_suspend = allow, the default) while dm-0 (sda3_crypt) is unlocked: the keys stay in RAM while the machine is suspended", do: "set on_suspend = wipe or wipe-after 30m in /etc/ramwipe/ramwipe.conf"},
		{name: "allow said in the config", setup: func(tr *tree) {
			unlocked(tr)
			tr.file(DefaultConfig, "# ramwipe\non_suspend = allow\n")
		}, want: []Severity{Warn}, what: "(on_suspend = allow, /etc/ramwipe/ramwipe.conf:2)"},
		{name: "cryptsetup-suspend", setup: func(tr *tree) {
			unlocked(tr)
			tr.file("/usr/lib/cryptsetup/scripts/suspend/cryptsetup-suspend-wrapper", "#!/bin/sh\n")
		}, want: []Severity{OK}, what: "cryptsetup-suspend erases the LUKS keys before suspend (/usr/lib/cryptsetup/scripts/suspend/cryptsetup-suspend-wrapper); on_suspend = allow (the default) keeps the rest of memory"},
		{name: "wipe", setup: func(tr *tree) {
			unlocked(tr)
			tr.file(DefaultConfig, "on_suspend = wipe\n")
			tr.file("/usr/lib/systemd/system-sleep/ramwipe", "#!/bin/sh\n")
		}, want: []Severity{OK}, what: "on_suspend = wipe (/etc/ramwipe/ramwipe.conf:1): a suspend request wipes"},
		{name: "wipe with cryptsetup-suspend", setup: func(tr *tree) {
			unlocked(tr)
			tr.file(DefaultConfig, "on_suspend = wipe\n")
			tr.file("/lib/systemd/system-sleep/ramwipe", "#!/bin/sh\n")
			tr.file("/lib/systemd/system/systemd-suspend.service.d/cryptsetup-suspend.conf", "[Service]\n")
		}, want: []Severity{OK}, what: "ramwipe's hook runs before cryptsetup-suspend"},
		{name: "wipe without the hook", setup: func(tr *tree) {
			unlocked(tr)
			tr.file(DefaultConfig, "on_suspend = wipe\n")
		}, want: []Severity{Warn}, what: "sleep hook is not installed", do: "reinstall ramwipe"},
		{name: "wipe-after", setup: func(tr *tree) {
			unlocked(tr)
			tr.file(DefaultConfig, "on_suspend = wipe-after 30m\n")
			tr.file("/usr/lib/systemd/system-sleep/ramwipe", "#!/bin/sh\n")
			tr.file(rtcWakeAlarm, "\n")
		}, want: []Severity{Info}, what: "for 30m0s at most: then the RTC wakes it and it wipes"},
		{name: "wipe-after without an RTC", setup: func(tr *tree) {
			unlocked(tr)
			tr.file(DefaultConfig, "on_suspend = wipe-after 30m\n")
			tr.file("/usr/lib/systemd/system-sleep/ramwipe", "#!/bin/sh\n")
		}, want: []Severity{Warn}, what: "no RTC wake alarm", do: "on_suspend = wipe"},
		{name: "wipe-after with cryptsetup-suspend", setup: func(tr *tree) {
			unlocked(tr)
			tr.file(DefaultConfig, "on_suspend = wipe-after 30m\n")
			tr.file("/usr/lib/systemd/system-sleep/ramwipe", "#!/bin/sh\n")
			tr.file(rtcWakeAlarm, "\n")
			tr.file("/usr/lib/cryptsetup/scripts/suspend/cryptsetup-suspend-wrapper", "#!/bin/sh\n")
		}, want: []Severity{Warn}, what: "freezes ramwiped until the passphrase is typed", do: "set on_suspend = allow"},
		{name: "bad on_suspend", setup: func(tr *tree) {
			unlocked(tr)
			tr.file(DefaultConfig, "\non_suspend = sometimes\n")
		}, want: []Severity{Warn}, what: `/etc/ramwipe/ramwipe.conf:2: on_suspend = "sometimes"`, do: "ramwiped -check-config"},
		{name: "AllowSuspend=no", setup: func(tr *tree) {
			unlocked(tr)
			tr.file("/etc/systemd/sleep.conf.d/ramwipe.conf", "[Sleep]\nAllowSuspend=no\n")
		}, want: []Severity{OK}, what: "suspend is off"},
		{name: "AllowSuspend in another section", setup: func(tr *tree) {
			unlocked(tr)
			tr.file("/etc/systemd/sleep.conf", "[Other]\nAllowSuspend=no\n")
		}, want: []Severity{Warn}},
		{name: "no dm-crypt device", setup: func(tr *tree) {
			tr.file(powerState, "freeze\n")
		}, want: []Severity{Info}, what: "no dm-crypt device is open"},
		{name: "kernel cannot", setup: func(tr *tree) {
			tr.file(powerState, "disk\n")
		}, want: []Severity{OK}, what: "cannot suspend"},
	})
}

func TestUSBInsert(t *testing.T) {
	devices := func(tr *tree) {
		usb1 := "/sys/devices/pci0000:00/0000:00:04.0/usb1"
		for port, attrs := range map[string]map[string]string{
			"usb1": {"idVendor": "1d6b", "idProduct": "0002", "bDeviceClass": "09"},
			"1-1":  {"idVendor": "46f4", "idProduct": "0001", "bDeviceClass": "00", "serial": "S1", "product": "QEMU USB HARDDRIVE"},
			"1-2":  {"idVendor": "0627", "idProduct": "0001", "bDeviceClass": "00", "product": "QEMU USB Tablet"},
		} {
			dir := usb1
			if port != "usb1" {
				dir += "/" + port
			}
			for k, v := range attrs {
				tr.file(dir+"/"+k, v+"\n")
			}
			tr.link("/sys/bus/usb/devices/"+port, dir)
		}
	}
	runChecks(t, CheckUSBInsert, []checkCase{
		{name: "no config file", want: []Severity{Info}, what: "the USB-insertion trigger is off", do: "ramwipe usb learn --write"},
		{name: "off", setup: func(tr *tree) {
			tr.file(DefaultConfig, "usb_insert = off\nusb_allow = 1:2\n")
		}, want: []Severity{Info}, what: "is off"},
		{name: "on, empty allow-list", setup: func(tr *tree) {
			tr.file(DefaultConfig, "# x\nusb_insert = on\n")
			devices(tr)
		}, want: []Severity{Warn}, what: "usb_insert is on (/etc/ramwipe/ramwipe.conf:2) and the allow-list is empty: every USB device plugged in wipes", do: "ramwipe usb learn --write"},
		{name: "on, a bad entry", setup: func(tr *tree) {
			tr.file(DefaultConfig, "usb_insert = yes\nusb_allow = 46f4\nusb_allow = 46f4:1 627:1\n")
			devices(tr)
		}, want: []Severity{Warn, OK}, what: "1 usb_allow lines in /etc/ramwipe/ramwipe.conf do not parse", do: "ramwiped -check-config"},
		{name: "on, every device allowed", setup: func(tr *tree) {
			tr.file(DefaultConfig, "usb_insert = on\nusb_allow = 46f4:1:S1 0627:0001@1-2\n")
			devices(tr)
		}, want: []Severity{OK}, what: "2 allow-list entries; the 2 USB devices attached now are all on it"},
		{name: "on, a device not allowed", setup: func(tr *tree) {
			tr.file(DefaultConfig, "usb_insert = on\nusb_allow = 46f4:1:S2\n")
			devices(tr)
		}, want: []Severity{Info}, what: "2 of the 2 USB devices attached now are not on it, and unplugging and plugging one in again wipes: 1-1 (46f4:0001 \"QEMU USB HARDDRIVE\", serial \"S1\"); 1-2"},
		{name: "on, no USB at all", setup: func(tr *tree) {
			tr.file(DefaultConfig, "usb_insert = on\nusb_allow = 46f4:1\n")
		}, want: []Severity{Info}, what: "could not be listed"},
		{name: "bad switch", setup: func(tr *tree) {
			tr.file(DefaultConfig, "usb_insert = sometimes\n")
		}, want: []Severity{Warn}, what: "usb_insert = \"sometimes\"", do: "ramwiped -check-config"},
	})
}

func TestSeverityText(t *testing.T) {
	for _, s := range []Severity{OK, Info, Warn, Fail} {
		b, err := s.MarshalText()
		require.NoError(t, err)
		var back Severity
		require.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, s, back)
	}
	_, err := Severity(9).MarshalText()
	assert.Error(t, err)
	assert.Equal(t, "Severity(9)", Severity(9).String())
	var s Severity
	assert.ErrorContains(t, s.UnmarshalText([]byte("bad")), "want ok, info, warn or fail")
}

func TestReportText(t *testing.T) {
	r := &Report{Findings: []Finding{
		{Check: CheckKexec, Severity: OK, What: "a"},
		{Check: CheckSwap, Severity: Fail, What: "b", Do: "fix b"},
		{Check: CheckKdump, Severity: Warn, What: "c", Do: "fix c"},
		{Check: CheckHotkey, Severity: Warn, What: "d", Do: "fix d"},
	}}
	assert.Equal(t, Fail, r.Worst())
	assert.Equal(t, OK, (&Report{}).Worst())
	var b bytes.Buffer
	require.NoError(t, r.WriteText(&b))
	assert.Equal(t, `FAIL  swap               b
                         do: fix b
WARN  kdump              c
                         do: fix c
WARN  hotkey             d
                         do: fix d
OK    kexec              a

worst: FAIL
`, b.String())
	j, err := json.Marshal(r)
	require.NoError(t, err)
	assert.Contains(t, string(j), `{"check":"swap","severity":"fail","what":"b","do":"fix b"}`)
}

// TestAuditEveryCheck runs every check on an empty tree: each says
// something.
func TestAuditEveryCheck(t *testing.T) {
	r := audit(t.TempDir(), Options{Config: DefaultConfig, Privileged: true})
	seen := map[string]bool{}
	for _, f := range r.Findings {
		seen[f.Check] = true
	}
	for _, c := range []string{CheckKexec, CheckLockdown, CheckSecureBoot, CheckUnattended, CheckSwap, CheckHibernation, CheckKdump, CheckKeyring, CheckHotkey, CheckSuspend, CheckUSBInsert} {
		assert.True(t, seen[c], "no finding for %s", c)
	}
}

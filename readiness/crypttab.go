package readiness

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// crypttabEntry is one line of /etc/crypttab (crypttab(5)):
//
//	name  device  [keyfile  [option,option=value,…]]
type crypttabEntry struct {
	Line    int
	Name    string
	Device  string
	KeyFile string
	Options []string
}

// option returns the value of option key ("" for a flag such as
// _netdev) and whether it is there; the last one counts.
func (e crypttabEntry) option(key string) (string, bool) {
	return lastOption(e.Options, key)
}

func lastOption(opts []string, key string) (val string, ok bool) {
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		if k == key {
			val, ok = v, true
		}
	}
	return val, ok
}

// maxCrypttabLines bounds the entries parseCrypttab keeps.
const maxCrypttabLines = 4096

// parseCrypttab parses /etc/crypttab: fields separated by spaces or
// tabs, '#' starting a comment line, blank lines ignored; options
// separated by commas. Lines with fewer than two fields are returned as
// errors (with their line number) and skipped.
func parseCrypttab(b []byte) ([]crypttabEntry, []error) {
	var (
		entries []crypttabEntry
		errs    []error
	)
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if len(entries) >= maxCrypttabLines {
			errs = append(errs, fmt.Errorf("line %d: more than %d entries; the rest is not read", n+1, maxCrypttabLines))
			break
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			errs = append(errs, fmt.Errorf("line %d: %q: want NAME DEVICE [KEYFILE [OPTIONS]]", n+1, trunc(line)))
			continue
		}
		e := crypttabEntry{Line: n + 1, Name: f[0], Device: f[1]}
		if len(f) > 2 {
			e.KeyFile = f[2]
		}
		if len(f) > 3 {
			e.Options = splitOptions(f[3])
		}
		entries = append(entries, e)
	}
	return entries, errs
}

// splitOptions splits a comma-separated option list, dropping empty ones.
func splitOptions(s string) []string {
	var opts []string
	for o := range strings.SplitSeq(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			opts = append(opts, o)
		}
	}
	return opts
}

// isTrue reads a systemd boolean.
func isTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "yes", "y", "true", "t", "on":
		return true
	}
	return false
}

func trunc(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// tpm2WithoutPIN reports whether options unlock by TPM2 alone: a
// tpm2-device= option and no tpm2-pin=yes.
func tpm2WithoutPIN(opts []string) bool {
	dev, ok := lastOption(opts, "tpm2-device")
	if !ok || dev == "" {
		return false
	}
	pin, _ := lastOption(opts, "tpm2-pin")
	return !isTrue(pin)
}

// Files the unattended-unlock check reads.
const (
	crypttabFile = "/etc/crypttab"
	cmdlineFile  = "/proc/cmdline"
)

// clevisBootHooks are the files that make the initramfs unlock LUKS
// volumes through clevis (Debian's clevis-initramfs and clevis-dracut;
// /etc for a local copy).
var clevisBootHooks = []string{
	"/usr/share/initramfs-tools/hooks/clevis",
	"/etc/initramfs-tools/hooks/clevis",
	"/usr/lib/dracut/modules.d/*clevis*",
}

// clevisAskpass is clevis-systemd's unit that unlocks crypttab's _netdev
// volumes after boot.
var clevisAskpass = []string{
	"/usr/lib/systemd/system/clevis-luks-askpass.path",
	"/lib/systemd/system/clevis-luks-askpass.path",
}

// unattendedUnlock: volumes that unlock without their owner make a
// cold-boot wipe moot — a thief boots the machine and has the keys.
func (a *auditor) unattendedUnlock() {
	const risk = "a thief who boots the machine gets the disk key without you, and a memory wipe cannot help then"
	found := false
	b, err := a.read(crypttabFile)
	var entries []crypttabEntry
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		a.unreadable(CheckUnattended, crypttabFile, err)
	default:
		var errs []error
		entries, errs = parseCrypttab(b)
		if len(errs) > 0 {
			a.add(CheckUnattended, Info, "fix the lines, or cryptsetup and systemd skip them", "%s: %v", crypttabFile, errors.Join(errs...))
		}
	}
	for _, e := range entries {
		if tpm2WithoutPIN(e.Options) {
			found = true
			a.add(CheckUnattended, Warn,
				fmt.Sprintf("unless cryptsetup luksDump %s shows tpm2-pin: true, re-enrol with a PIN: systemd-cryptenroll --wipe-slot=tpm2 --tpm2-device=auto --tpm2-with-pin=yes %s, and add tpm2-pin=yes to the line", e.Device, e.Device),
				"%s:%d: %s unlocks by TPM2 (tpm2-device=) with no PIN: %s", crypttabFile, e.Line, e.Name, risk)
		}
	}
	if cmd, err := a.read(cmdlineFile); err == nil {
		for _, key := range []string{"rd.luks.options", "luks.options"} {
			if v, ok := cmdlineParam(string(cmd), key); ok && tpm2WithoutPIN(splitOptions(v)) {
				found = true
				a.add(CheckUnattended, Warn,
					"enrol the TPM2 token with a PIN (systemd-cryptenroll --tpm2-with-pin=yes) and drop tpm2-device= from the kernel command line, or add tpm2-pin=yes",
					"the kernel command line has %s=%s: volumes unlock by TPM2 with no PIN: %s", key, v, risk)
			}
		}
	}
	if hook := a.firstExisting(clevisBootHooks); hook != "" {
		found = true
		a.add(CheckUnattended, Warn,
			"list each volume's bindings (clevis luks list -d DEVICE); remove tpm2 bindings without a second factor (clevis luks unbind -d DEVICE -s SLOT), or uninstall clevis-initramfs/clevis-dracut if unused",
			"clevis unlocks LUKS volumes at boot (%s): with a tpm2 binding, or a tang server the thief can reach, %s", hook, risk)
	}
	if unit := a.firstExisting(clevisAskpass); unit != "" {
		for _, e := range entries {
			if _, ok := e.option("_netdev"); ok {
				found = true
				a.add(CheckUnattended, Warn,
					fmt.Sprintf("check the bindings: clevis luks list -d %s", e.Device),
					"%s:%d: %s is _netdev and clevis-luks-askpass (%s) may unlock it without you: %s", crypttabFile, e.Line, e.Name, unit, risk)
			}
		}
	}
	if !found {
		a.add(CheckUnattended, OK, "", "no volume in %s or on the kernel command line unlocks by TPM2 without a PIN, and no clevis boot unlock", crypttabFile)
	}
}

// firstExisting returns the first of paths (globs allowed) that exists
// in the audited tree, "" if none.
func (a *auditor) firstExisting(paths []string) string {
	for _, p := range paths {
		m, _ := filepath.Glob(a.path(p))
		if len(m) > 0 {
			rel, err := filepath.Rel(a.root, m[0])
			if err != nil {
				return p
			}
			return "/" + filepath.ToSlash(rel)
		}
	}
	return ""
}

// cmdlineParam returns the value of the last key=value parameter of a
// kernel command line (quotes aside), and whether there is one.
func cmdlineParam(cmdline, key string) (string, bool) {
	val, ok := "", false
	for f := range strings.FieldsSeq(cmdline) {
		k, v, _ := strings.Cut(f, "=")
		if k == key {
			val, ok = strings.Trim(v, `"`), true
		}
	}
	return val, ok
}

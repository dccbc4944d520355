package readiness

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/ramwipe/ramwipe/wipe/keyring"
)

const procKeys = "/proc/keys"

// keyring: disk keys in the kernel keyrings are one more copy in RAM,
// and one a process with the right permission can read back.
func (a *auditor) keyring() {
	b, err := a.read(procKeys)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			a.add(CheckKeyring, OK, "", "the kernel has no keyrings (%s absent)", procKeys)
		} else {
			a.unreadable(CheckKeyring, procKeys, err)
		}
		return
	}
	keys, err := keyring.Parse(b)
	if err != nil {
		a.add(CheckKeyring, Info, "", "%s: %v", procKeys, err)
	}
	var disk []string
	for _, k := range keys {
		if k.Disk() {
			disk = append(disk, k.String())
		}
	}
	scope := ""
	if !a.opts.Privileged {
		scope = " that you may view"
	}
	switch {
	case len(disk) > 0:
		a.add(CheckKeyring, Warn,
			"keep ramwiped armed (ramwipe status): a trigger invalidates them; the user key \"cryptsetup\" is systemd's passphrase cache and should go by itself within minutes of boot — if it stays, keyctl invalidate it",
			"%d disk-encryption %s in the kernel keyrings%s (%s): one more copy of the keys in RAM",
			len(disk), plural(len(disk), "key", "keys"), scope, strings.Join(disk, ", "))
	default:
		a.add(CheckKeyring, OK, "", "no disk-encryption keys in the kernel keyrings%s", scope)
	}
	if !a.opts.Privileged {
		a.add(CheckKeyring, Info, "run ramwipe check as root to see root's keyrings",
			"not root: %s lists only the keys you may view, so root's volume keys were not checked", procKeys)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

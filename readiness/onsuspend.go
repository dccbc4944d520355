package readiness

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/ramwipe/ramwipe/trigger/suspend"
)

// Files the on_suspend check looks for.
const (
	rtcWakeAlarm = suspend.DefaultAlarm
)

// sleepHooks is ramwipe's systemd sleep hook, where the package installs
// it (merged /usr and not).
var sleepHooks = []string{"/usr/lib/systemd/system-sleep/ramwipe", "/lib/systemd/system-sleep/ramwipe"}

// confSetting returns the value of key in ramwipe.conf and the line it is
// on; line 0 if the setting is not there. The file's format is ramwiped's
// (ramwipe.conf(5)): "key = value" lines, '#' comments.
func confSetting(conf []byte, key string) (val string, line int) {
	for n, l := range strings.Split(string(conf), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), n + 1
		}
	}
	return "", 0
}

// onSuspend adds the suspend finding when ramwipe.conf's on_suspend is
// wipe or wipe-after, or is wrong, and says so; under allow (the default)
// it adds nothing and returns the policy's place for the caller's finding.
func (a *auditor) onSuspend(cryptsetupSuspend string) (done bool, where string) {
	conf := a.opts.Config
	b, err := a.read(conf)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.unreadable(CheckSuspend, conf, err)
	}
	val, line := confSetting(b, "on_suspend")
	where = "the default"
	if line > 0 {
		where = fmt.Sprintf("%s:%d", conf, line)
	} else {
		val = "allow"
	}
	p, err := suspend.ParsePolicy(val)
	if err != nil {
		a.add(CheckSuspend, Warn, "fix the on_suspend line (ramwiped -check-config checks the file); ramwiped does not start with it",
			"%s: on_suspend = %q: %v", where, val, err)
		return true, where
	}
	if p.Mode == suspend.Allow {
		return false, where
	}
	if a.firstExisting(sleepHooks) == "" {
		a.add(CheckSuspend, Warn, "reinstall ramwipe (the package installs the hook as /usr/lib/systemd/system-sleep/ramwipe)",
			"on_suspend = %v (%s), but ramwipe's sleep hook is not installed: ramwiped hears of a suspend only at the resume, with the keys in RAM all along", p, where)
		return true, where
	}
	switch {
	case p.Mode == suspend.Wipe && cryptsetupSuspend != "":
		a.add(CheckSuspend, OK, "", "on_suspend = wipe (%s): a suspend request wipes memory and powers off instead; ramwipe's hook runs before cryptsetup-suspend (%s) suspends the volumes", where, cryptsetupSuspend)
	case p.Mode == suspend.Wipe:
		a.add(CheckSuspend, OK, "", "on_suspend = wipe (%s): a suspend request wipes memory and powers off instead of sleeping (unsaved work is lost)", where)
	case !a.exists(rtcWakeAlarm):
		a.add(CheckSuspend, Warn, "set on_suspend = wipe (or allow) in "+a.opts.Config+", or find why the kernel shows no RTC",
			"on_suspend = %v (%s), but this machine has no RTC wake alarm (%s): every suspend wipes at once", p, where, rtcWakeAlarm)
	case cryptsetupSuspend != "":
		a.add(CheckSuspend, Warn, "set on_suspend = allow (cryptsetup-suspend already erases the disk keys on suspend) or wipe in "+a.opts.Config,
			"on_suspend = %v (%s) with cryptsetup-suspend (%s): cryptsetup-suspend freezes ramwiped until the passphrase is typed at resume, so the alarm's wake waits at the passphrase prompt and ramwiped wipes only after someone typed it — the owner", p, where, cryptsetupSuspend)
	default:
		a.add(CheckSuspend, Info, "", "on_suspend = %v (%s): the disk keys stay in RAM while the machine sleeps, for %v at most: then the RTC wakes it and it wipes (unsaved work is lost); the owner's earlier wake cancels that", p, where, p.After)
	}
	return true, where
}

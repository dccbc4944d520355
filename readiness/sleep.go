package readiness

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// maxSleepConfKeys bounds the settings parseSleepConf keeps.
const maxSleepConfKeys = 256

// parseSleepConf reads the [Sleep] section of a systemd-sleep.conf(5)
// file into settings (later ones win): "Key=Value" lines, '#' and ';'
// starting comments, other sections ignored. Malformed lines are skipped;
// the error names the first.
func parseSleepConf(b []byte, into map[string]string) error {
	var bad error
	section := ""
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			if line[len(line)-1] != ']' {
				if bad == nil {
					bad = fmt.Errorf("line %d: %q: want [Section]", n+1, trunc(line))
				}
				section = ""
				continue
			}
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			if bad == nil {
				bad = fmt.Errorf("line %d: %q: want Key=Value", n+1, trunc(line))
			}
			continue
		}
		if section != "Sleep" {
			continue
		}
		if _, seen := into[k]; !seen && len(into) >= maxSleepConfKeys {
			continue
		}
		into[k] = strings.TrimSpace(v)
	}
	return bad
}

// sleepConf reads systemd's sleep configuration the way systemd-sleep
// does: the main file, then drop-ins *.conf from every directory sorted by
// file name, a file in /etc hiding one of the same name in /run or /usr.
// It returns the settings and, for each, the file that set it.
func (a *auditor) sleepConf() (settings, from map[string]string) {
	settings, from = map[string]string{}, map[string]string{}
	files := []string{"/usr/lib/systemd/sleep.conf", "/etc/systemd/sleep.conf"}
	dropins := map[string]string{} // base name → path, first directory wins
	for _, dir := range []string{"/etc/systemd/sleep.conf.d", "/run/systemd/sleep.conf.d", "/usr/local/lib/systemd/sleep.conf.d", "/usr/lib/systemd/sleep.conf.d"} {
		ents, _ := os.ReadDir(a.path(dir))
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".conf") {
				if _, ok := dropins[e.Name()]; !ok {
					dropins[e.Name()] = path.Join(dir, e.Name())
				}
			}
		}
	}
	names := make([]string, 0, len(dropins))
	for n := range dropins {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		files = append(files, dropins[n])
	}
	for _, f := range files {
		b, err := a.read(f)
		if err != nil {
			continue
		}
		one := map[string]string{}
		_ = parseSleepConf(b, one) // a bad line is skipped, as systemd does
		for k, v := range one {
			settings[k], from[k] = v, f
		}
	}
	return settings, from
}

// Files the sleep checks read.
const (
	powerState       = "/sys/power/state"
	memSleep         = "/sys/power/mem_sleep"
	initramfsResume  = "/etc/initramfs-tools/conf.d/resume"
	sleepConfDropDir = "/etc/systemd/sleep.conf.d"
)

// hibernation: a hibernation image is all of memory, keys included,
// written to swap.
func (a *auditor) hibernation() {
	state, err := a.readTrim(powerState)
	cmdline, _ := a.read(cmdlineFile)
	_, nohib := cmdlineParam(string(cmdline), "nohibernate")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		a.add(CheckHibernation, OK, "", "the kernel has no power management (%s absent): no hibernation", powerState)
		return
	case err != nil:
		a.unreadable(CheckHibernation, powerState, err)
		return
	case !slices.Contains(strings.Fields(state), "disk"):
		a.add(CheckHibernation, OK, "", "the kernel cannot hibernate (%s has no disk)", powerState)
		return
	case nohib:
		a.add(CheckHibernation, OK, "", "hibernation is off (nohibernate on the kernel command line)")
		return
	case a.lockedDown():
		a.add(CheckHibernation, OK, "", "hibernation is off (kernel lockdown)")
		return
	}
	settings, from := a.sleepConf()
	if v, ok := settings["AllowHibernation"]; ok && !isTrue(v) &&
		!isTrue(settings["AllowSuspendThenHibernate"]) && !isTrue(settings["AllowHybridSleep"]) {
		a.add(CheckHibernation, OK, "", "hibernation is off (AllowHibernation=%s in %s)", v, from["AllowHibernation"])
		return
	}
	var how []string
	if v, ok := cmdlineParam(string(cmdline), "resume"); ok && v != "" && v != "none" {
		how = append(how, "resume="+v+" on the kernel command line")
	}
	if b, err := a.read(initramfsResume); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			v = strings.Trim(strings.TrimSpace(v), `"'`)
			if ok && strings.TrimSpace(k) == "RESUME" && v != "" && v != "none" {
				how = append(how, fmt.Sprintf("RESUME=%s in %s", v, initramfsResume))
			}
		}
	}
	for _, k := range []string{"HibernateMode", "AllowHibernation", "AllowSuspendThenHibernate", "AllowHybridSleep"} {
		if v, ok := settings[k]; ok && (k == "HibernateMode" || isTrue(v)) {
			how = append(how, fmt.Sprintf("%s=%s in %s", k, v, from[k]))
		}
	}
	disable := fmt.Sprintf("unless you hibernate: AllowHibernation=no, AllowSuspendThenHibernate=no and AllowHybridSleep=no under [Sleep] in %s/ramwipe.conf, and drop resume= (RESUME=none in %s)", sleepConfDropDir, initramfsResume)
	if len(how) == 0 {
		a.add(CheckHibernation, OK, "to be sure: "+strings.TrimPrefix(disable, "unless you hibernate: "),
			"hibernation is not configured (no resume= device), although the kernel could hibernate")
		return
	}
	plain := false
	for _, s := range a.swaps {
		plain = plain || s.State == swapPlain || s.State == swapUnknown
	}
	if !plain && len(a.swaps) > 0 {
		a.add(CheckHibernation, Info, disable,
			"hibernation is configured (%s); every swap area is encrypted, so the image of memory, keys included, is too", strings.Join(how, "; "))
		return
	}
	a.add(CheckHibernation, Warn, disable+"; or encrypt the swap (see the swap finding)",
		"hibernation is configured (%s): it writes all of memory, disk keys included, to swap that is not known to be encrypted", strings.Join(how, "; "))
}

// cryptsetupSuspend are the files of Debian's cryptsetup-suspend, which
// luksSuspends every LUKS volume before suspend (merged /usr and not).
var cryptsetupSuspend = []string{
	"/usr/lib/cryptsetup/scripts/suspend/cryptsetup-suspend-wrapper",
	"/lib/cryptsetup/scripts/suspend/cryptsetup-suspend-wrapper",
	"/usr/lib/systemd/system/systemd-suspend.service.d/cryptsetup-suspend.conf",
	"/lib/systemd/system/systemd-suspend.service.d/cryptsetup-suspend.conf",
}

// suspend: a suspended machine keeps its memory, and its disk keys,
// powered; a thief who takes it asleep has time for a cold-boot attack.
func (a *auditor) suspend() {
	state, err := a.readTrim(powerState)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		a.add(CheckSuspend, OK, "", "the kernel has no power management (%s absent): no suspend", powerState)
		return
	case err != nil:
		a.unreadable(CheckSuspend, powerState, err)
		return
	}
	states := strings.Fields(state)
	if !slices.Contains(states, "mem") && !slices.Contains(states, "freeze") {
		a.add(CheckSuspend, OK, "", "the kernel cannot suspend (%s is %q)", powerState, state)
		return
	}
	settings, from := a.sleepConf()
	if v, ok := settings["AllowSuspend"]; ok && !isTrue(v) {
		a.add(CheckSuspend, OK, "", "suspend is off (AllowSuspend=%s in %s)", v, from["AllowSuspend"])
		return
	}
	cs := a.firstExisting(cryptsetupSuspend)
	done, where := a.onSuspend(cs)
	if done {
		return
	}
	if cs != "" {
		a.add(CheckSuspend, OK, "", "cryptsetup-suspend erases the LUKS keys before suspend (%s); on_suspend = allow (%s) keeps the rest of memory, your session, in RAM while suspended", cs, where)
		return
	}
	mode := "mem"
	if m, err := a.readTrim(memSleep); err == nil {
		if b, ok := bracketed(m); ok {
			mode = "mem (" + b + ")"
		}
	}
	do := fmt.Sprintf("set on_suspend = wipe or wipe-after 30m in %s (a suspend, or a long one, then wipes: unsaved work is lost), install cryptsetup-suspend (Debian, initramfs-tools: it erases the keys on suspend and asks for the passphrase on resume), or forbid suspend: AllowSuspend=no under [Sleep] in %s/ramwipe.conf", a.opts.Config, sleepConfDropDir)
	crypt := a.cryptDevices()
	if len(crypt) == 0 {
		a.add(CheckSuspend, Info, do, "suspend to %s is allowed (on_suspend = allow, %s) and nothing erases disk keys before it; no dm-crypt device is open now", mode, where)
		return
	}
	a.add(CheckSuspend, Warn, do,
		"suspend to %s is allowed (on_suspend = allow, %s) while %s %s unlocked: the keys stay in RAM while the machine is suspended", mode, where, strings.Join(crypt, ", "), pluralIs(len(crypt)))
}

func pluralIs(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// cryptDevices lists the open dm-crypt devices by dm name.
func (a *auditor) cryptDevices() []string {
	dirs, _ := filepath.Glob(a.path("/sys/block/dm-*"))
	var names []string
	for _, d := range dirs {
		uuid, err := os.ReadFile(filepath.Join(d, "dm", "uuid"))
		if err == nil && isCryptUUID(strings.TrimSpace(string(uuid))) {
			names = append(names, dmName(d))
		}
	}
	return names
}

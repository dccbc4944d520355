package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ramwipe/ramwipe/readiness"
	"github.com/ramwipe/ramwipe/trigger/usbinsert"
)

// usbEnv is where `ramwipe usb learn` looks; tests point it at fakes.
type usbEnv struct {
	root string           // prepended to /sys
	now  func() time.Time // for the comment and the backup's name
}

var defaultUSBEnv = usbEnv{root: "/", now: time.Now}

// usbCommand runs `ramwipe usb learn [--write] [--ports] [--config PATH]`.
func usbCommand(env usbEnv, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "learn" {
		fmt.Fprintf(stderr, "ramwipe: usb: want \"usb learn [--write] [--ports] [--config PATH]\"\n")
		return exitUsageCode
	}
	fs := flag.NewFlagSet("ramwipe usb learn", flag.ContinueOnError)
	fs.SetOutput(stderr)
	write := fs.Bool("write", false, "append the lines to the config file (after a backup) instead of printing them")
	ports := fs.Bool("ports", false, "pin every device to the port it is plugged into now (VENDOR:PRODUCT…@PORT)")
	conf := fs.String("config", readiness.DefaultConfig, "the config file --write appends to")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsageCode
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ramwipe: usb learn: unexpected argument %q\n", fs.Arg(0))
		return exitUsageCode
	}
	devs, err := usbinsert.List(env.root)
	if err != nil {
		if devs == nil {
			fmt.Fprintf(stderr, "ramwipe: usb learn: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stderr, "ramwipe: usb learn: some devices were left out: %v\n", err)
	}
	block, rules := learnBlock(devs, *ports, env.now())
	if !*write {
		fmt.Fprint(stdout, block)
		if len(rules) == 0 {
			fmt.Fprintln(stderr, "ramwipe: usb learn: no USB device but hubs is attached")
		}
		return exitOK
	}
	msg, err := appendAllowList(*conf, devs, *ports, env.now())
	if err != nil {
		fmt.Fprintf(stderr, "ramwipe: usb learn: %v\n", err)
		return exitFailed
	}
	fmt.Fprint(stdout, msg)
	return exitOK
}

// learnBlock returns the config lines that allow devs (hubs left out,
// duplicates once), each after a comment naming the device, and the rules.
func learnBlock(devs []usbinsert.Device, pinPorts bool, now time.Time) (string, []usbinsert.Rule) {
	var b strings.Builder
	fmt.Fprintf(&b, "# ramwipe usb learn, %s: the USB devices attached then (hubs are never judged)\n", now.Format("2006-01-02 15:04"))
	rules := learnRules(devs, pinPorts, nil, func(d usbinsert.Device, r usbinsert.Rule) {
		note := "no serial: any " + d.ID() + " device passes; add @" + d.Port + " to allow it on this port only"
		switch {
		case d.Serial != "" && r.Port != "":
			note = "serial " + usbinsert.CleanString(d.Serial, 60) + ", on this port only"
		case d.Serial != "":
			note = "serial " + usbinsert.CleanString(d.Serial, 60)
		case r.Port != "":
			note = "no serial: any " + d.ID() + " device on this port passes"
		}
		name := d.Name
		if name == "" {
			name = "(no name)"
		}
		fmt.Fprintf(&b, "# %s: %s, %s\nusb_allow = %s\n", d.Port, name, note, r)
	})
	return b.String(), rules
}

// learnRules returns a rule per device in devs that is not a hub and
// that no rule in have allows, calling each for every new rule.
func learnRules(devs []usbinsert.Device, pinPorts bool, have []usbinsert.Rule, each func(usbinsert.Device, usbinsert.Rule)) []usbinsert.Rule {
	var rules []usbinsert.Rule
	for _, d := range devs {
		if d.Hub() {
			continue
		}
		r := usbinsert.Rule{Vendor: d.Vendor, Product: d.Product, Serial: d.Serial}
		if pinPorts || !d.SerialKnown {
			r.Port = d.Port
		}
		if allowedBy(have, d) || allowedBy(rules, d) {
			continue
		}
		rules = append(rules, r)
		if each != nil {
			each(d, r)
		}
	}
	return rules
}

func allowedBy(rules []usbinsert.Rule, d usbinsert.Device) bool {
	for _, r := range rules {
		if r.Allows(d) {
			return true
		}
	}
	return false
}

// confAllowList reads the usb_allow entries and the usb_insert setting of
// a config file; entries that do not parse are left out (ramwiped
// -check-config names them).
func confAllowList(conf []byte) (rules []usbinsert.Rule, insert string) {
	c := usbinsert.ReadConf(conf)
	return c.Rules, c.Insert
}

// appendAllowList appends to the config file at conf an allow-list entry
// for each device in devs that its entries do not allow yet. The user's
// file is never changed in place: it is copied to a backup first (a new
// file, never overwriting one), the new content is written to a temporary
// file beside it and renamed over it. It returns what it did, for people.
func appendAllowList(conf string, devs []usbinsert.Device, pinPorts bool, now time.Time) (string, error) {
	old, err := os.ReadFile(conf)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	have, insert := confAllowList(old)
	var added []usbinsert.Device
	rules := learnRules(devs, pinPorts, have, func(d usbinsert.Device, _ usbinsert.Rule) { added = append(added, d) })
	if len(rules) == 0 {
		return fmt.Sprintf("%s allows every USB device attached now already; nothing written\n", conf), nil
	}
	block, _ := learnBlock(added, pinPorts, now)
	var content bytes.Buffer
	content.Write(old)
	if len(old) > 0 && old[len(old)-1] != '\n' {
		content.WriteByte('\n')
	}
	if len(old) > 0 {
		content.WriteByte('\n')
	}
	content.WriteString(block)

	mode := fs.FileMode(0o644)
	var msg strings.Builder
	if exists {
		st, err := os.Stat(conf)
		if err != nil {
			return "", err
		}
		mode = st.Mode().Perm()
		backup, err := backupFile(conf, old, mode, now)
		if err != nil {
			return "", fmt.Errorf("back up %s: %w; nothing written", conf, err)
		}
		fmt.Fprintf(&msg, "backed up %s to %s\n", conf, backup)
	}
	if err := replaceFile(conf, content.Bytes(), mode); err != nil {
		return "", err
	}
	fmt.Fprintf(&msg, "added %d usb_allow entries to %s:\n", len(rules), conf)
	for i, r := range rules {
		fmt.Fprintf(&msg, "  %s  %s\n", r, added[i])
	}
	if on, ok := parseOnOff(insert); !ok || !on {
		fmt.Fprintf(&msg, "usb_insert is not on: set usb_insert = on in %s, then ", conf)
	} else {
		msg.WriteString("now ")
	}
	msg.WriteString("systemctl restart ramwiped && ramwipe status\n")
	return msg.String(), nil
}

// parseOnOff reads an on/off value as ramwiped does.
func parseOnOff(v string) (on, ok bool) {
	switch strings.ToLower(v) {
	case "yes", "true", "on", "1":
		return true, true
	case "no", "false", "off", "0":
		return false, true
	}
	return false, false
}

// backupFile writes data to a new file conf.bak-TIME (conf.bak-TIME.N if
// that exists) with conf's mode, synced, and returns its name.
func backupFile(conf string, data []byte, mode fs.FileMode, now time.Time) (string, error) {
	base := conf + ".bak-" + now.Format("20060102-150405")
	for i := 0; i < 100; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s.%d", base, i)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(name)
			return "", err
		}
		return name, nil
	}
	return "", fmt.Errorf("%s: 100 backups of this second exist already", base)
}

// replaceFile writes data to a temporary file in name's directory, with
// mode and (as root) name's owner, syncs it and renames it over name, so
// that name is either the old file or the new one, never half of either.
func replaceFile(name string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("%w; %s is unchanged", err, name)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w; %s is unchanged", tmp, err, name)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if st, err := os.Stat(name); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
			if err := f.Chown(int(sys.Uid), int(sys.Gid)); err != nil {
				return fail(err)
			}
		}
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w; %s is unchanged", tmp, err, name)
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%w; %s is unchanged", err, name)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

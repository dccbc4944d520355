package readiness

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/ramwipe/ramwipe/trigger/usbinsert"
)

// usbInsert: the USB-insertion trigger, off (worth knowing), on with an
// empty allow-list (every device wipes: a false wipe waiting to happen),
// or on with devices attached that the list does not allow (re-plugging
// one wipes).
func (a *auditor) usbInsert() {
	conf := a.opts.Config
	b, err := a.read(conf)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.unreadable(CheckUSBInsert, conf, err)
		return
	}
	c := usbinsert.ReadConf(b)
	val, line, rules, bad := c.Insert, c.InsertLine, c.Rules, c.Bad
	where := fmt.Sprintf("%s:%d", conf, line)
	learn := "ramwipe usb learn --write adds the USB devices attached now to the allow-list"
	switch strings.ToLower(val) {
	case "", "no", "false", "off", "0":
		a.add(CheckUSBInsert, Info, learn+"; then set usb_insert = on in "+conf+" (ramwipe.conf(5) says what it risks)",
			"the USB-insertion trigger is off: a device plugged in (a mouse jiggler keeping a seized laptop awake) does not wipe")
		return
	case "yes", "true", "on", "1":
	default:
		a.add(CheckUSBInsert, Warn, "fix the usb_insert line (ramwiped -check-config checks the file); ramwiped does not start with it",
			"%s: usb_insert = %q: want yes or no", where, val)
		return
	}
	if bad > 0 {
		a.add(CheckUSBInsert, Warn, "fix them (ramwiped -check-config names file:line); ramwiped does not start with them",
			"%d usb_allow lines in %s do not parse", bad, conf)
	}
	if len(rules) == 0 {
		a.add(CheckUSBInsert, Warn, learn+", then systemctl restart ramwiped",
			"usb_insert is on (%s) and the allow-list is empty: every USB device plugged in wipes memory, your own keyboard, mouse or stick too", where)
		return
	}
	devs, err := usbinsert.List(a.root)
	if err != nil && devs == nil {
		a.add(CheckUSBInsert, Info, "", "usb_insert is on (%s) with %d allow-list entries; the attached USB devices could not be listed: %v", where, len(rules), unwrapPath(err))
		return
	}
	var unlisted []string
	n := 0
	for _, d := range devs {
		if d.Hub() {
			continue
		}
		n++
		allowed := false
		for _, r := range rules {
			allowed = allowed || r.Allows(d)
		}
		if !allowed {
			unlisted = append(unlisted, d.String())
		}
	}
	if len(unlisted) > 0 {
		a.add(CheckUSBInsert, Info, learn,
			"usb_insert is on (%s) with %d allow-list entries; %d of the %d USB devices attached now are not on it, and unplugging and plugging one in again wipes: %s",
			where, len(rules), len(unlisted), n, strings.Join(unlisted, "; "))
		return
	}
	a.add(CheckUSBInsert, OK, "", "usb_insert is on (%s) with %d allow-list entries; the %d USB devices attached now are all on it", where, len(rules), n)
}

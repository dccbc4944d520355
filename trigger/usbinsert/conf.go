package usbinsert

import "strings"

// Conf is what ramwipe.conf says about the USB-insertion trigger, read by
// [ReadConf] for the tools that do not parse the whole file (ramwipe usb
// learn, ramwipe check); ramwiped's own parser names every bad line.
type Conf struct {
	Insert     string // usb_insert's value, "" when not set
	InsertLine int    // its line, 0 when not set
	Rules      []Rule // the usb_allow entries that parse
	Bad        int    // usb_allow lines that do not parse
}

// ReadConf reads the usb_insert setting and the usb_allow entries of a
// config file in ramwipe.conf(5)'s format.
func ReadConf(conf []byte) Conf {
	var c Conf
	for n, l := range strings.Split(string(conf), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "usb_insert":
			c.Insert, c.InsertLine = strings.TrimSpace(v), n+1
		case "usb_allow":
			rs, err := ParseRules(v)
			if err != nil {
				c.Bad++
				continue
			}
			c.Rules = append(c.Rules, rs...)
		}
	}
	return c
}

package usbinsert

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Rule is one entry of the allow-list, as ramwipe.conf writes it:
//
//	VENDOR:PRODUCT[:SERIAL][@PORT]
//
// VENDOR and PRODUCT are the device's idVendor and idProduct, 1 to 4 hex
// digits (lsusb shows them as 046d:c52b). SERIAL, when given, must equal
// the device's serial number; a rule without one allows every device of
// that model, with or without a serial. PORT, when given, is the kernel's
// name of the port the device must be plugged into (1-4, 3-1.2: bus, then
// the port on each hub from the root), as /sys/bus/usb/devices names it.
//
// A serial is written as it is when it consists of printable ASCII other
// than '%' and '@'; every other byte (a space, '@', '%', a control
// character, UTF-8) is written as %XX, two hex digits. [Rule.String]
// writes that form and [ParseRule] reads it back.
type Rule struct {
	Vendor, Product uint16
	// Serial is the serial number the device must have; "" means any.
	Serial string
	// Port is the port the device must be plugged into; "" means any.
	Port string
}

// Limits of what [ParseRule] accepts: a USB string descriptor holds at
// most 126 UTF-16 units (378 bytes of UTF-8), and USB allows 7 tiers of
// hubs below a root port.
const (
	MaxSerial  = 512
	MaxPortLen = 40
	maxRule    = 3*MaxSerial + MaxPortLen + 16
)

// ErrRule is wrapped by every error ParseRule returns.
var ErrRule = errors.New("bad usb_allow entry")

// ParseRule parses one allow-list entry (see [Rule]).
func ParseRule(s string) (Rule, error) {
	bad := func(format string, args ...any) (Rule, error) {
		if len(s) > 64 {
			s = s[:64] + "…"
		}
		return Rule{}, fmt.Errorf("%q: %s (want VENDOR:PRODUCT[:SERIAL][@PORT], e.g. 046d:c52b or 0781:5583:4C530001@1-4): %w", s, fmt.Sprintf(format, args...), ErrRule)
	}
	if len(s) > maxRule {
		return bad("longer than %d bytes", maxRule)
	}
	var r Rule
	body, port, hasPort := strings.Cut(s, "@")
	if hasPort {
		if !ValidPort(port) {
			return bad("port %q is not a USB port name such as 1-4 or 3-1.2", port)
		}
		r.Port = port
	}
	vendor, rest, ok := strings.Cut(body, ":")
	if !ok {
		return bad("no ':' between vendor and product")
	}
	product, serial, hasSerial := strings.Cut(rest, ":")
	var err error
	if r.Vendor, err = parseID(vendor); err != nil {
		return bad("vendor: %v", err)
	}
	if r.Product, err = parseID(product); err != nil {
		return bad("product: %v", err)
	}
	if hasSerial {
		if serial == "" {
			return bad("empty serial: leave out the second ':' to allow any serial")
		}
		if r.Serial, err = unescape(serial); err != nil {
			return bad("serial: %v", err)
		}
		if len(r.Serial) > MaxSerial {
			return bad("serial longer than %d bytes", MaxSerial)
		}
	}
	return r, nil
}

// ParseRules parses a usb_allow value: one or more entries separated by
// spaces or tabs.
func ParseRules(val string) ([]Rule, error) {
	fields := strings.Fields(val)
	if len(fields) == 0 {
		return nil, fmt.Errorf("no entry: %w", ErrRule)
	}
	rules := make([]Rule, 0, len(fields))
	for _, f := range fields {
		r, err := ParseRule(f)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// String writes r in the form ParseRule reads.
func (r Rule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%04x:%04x", r.Vendor, r.Product)
	if r.Serial != "" {
		b.WriteByte(':')
		b.WriteString(escape(r.Serial))
	}
	if r.Port != "" {
		b.WriteByte('@')
		b.WriteString(r.Port)
	}
	return b.String()
}

// Allows reports whether r allows device d. A rule with a serial never
// allows a device without one; a rule with a port allows only a device on
// that port.
func (r Rule) Allows(d Device) bool {
	if r.Vendor != d.Vendor || r.Product != d.Product {
		return false
	}
	if r.Serial != "" && (!d.SerialKnown || r.Serial != d.Serial) {
		return false
	}
	return r.Port == "" || r.Port == d.Port
}

// parseID parses a vendor or product ID: 1 to 4 hex digits.
func parseID(s string) (uint16, error) {
	if s == "" || len(s) > 4 || strings.IndexFunc(s, func(r rune) bool { return r > 0x7f || !hexDigit(byte(r)) }) >= 0 {
		return 0, fmt.Errorf("%q: want 1 to 4 hex digits", s)
	}
	v, _ := strconv.ParseUint(s, 16, 16)
	return uint16(v), nil
}

func hexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// ValidPort reports whether s is a USB device's port name: the bus
// number, '-', and the port on each hub from the root, separated by
// dots (1-4, 3-1.2.4). A root hub (usb1) has none.
func ValidPort(s string) bool {
	if len(s) > MaxPortLen {
		return false
	}
	bus, ports, ok := strings.Cut(s, "-")
	if !ok || !decimal(bus) {
		return false
	}
	for p := range strings.SplitSeq(ports, ".") {
		if !decimal(p) {
			return false
		}
	}
	return true
}

// decimal reports whether s is 1 to 3 decimal digits not starting with 0.
func decimal(s string) bool {
	if s == "" || len(s) > 3 || s[0] == '0' {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// plain reports whether a serial's byte c is written as it is.
func plain(c byte) bool { return c > ' ' && c < 0x7f && c != '%' && c != '@' }

func escape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if plain(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+3 > len(s) || !hexDigit(s[i+1]) || !hexDigit(s[i+2]) {
				return "", fmt.Errorf("'%%' at byte %d is not followed by two hex digits", i)
			}
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
		case plain(c):
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("byte %d (%q) must be written as %%%02X", i, c, c)
		}
	}
	return b.String(), nil
}

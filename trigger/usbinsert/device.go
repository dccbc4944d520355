package usbinsert

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ramwipe/ramwipe/trigger/uevent"
)

// ClassHub is bDeviceClass of a USB hub.
const ClassHub = 0x09

// Device is one USB device (DEVTYPE=usb_device), not one of its
// interfaces.
type Device struct {
	// DevPath is its path below /sys: /devices/pci0000:00/…/usb1/1-4.
	DevPath string
	// Port is the last component of DevPath: 1-4, or usb1 for a root hub.
	Port            string
	Vendor, Product uint16
	// Class is bDeviceClass; [ClassHub] for a hub.
	Class uint8
	// Serial is the serial number, "" if the device has none.
	Serial string
	// SerialKnown is false when the serial could not be read: the device
	// was gone by the time it was looked up.
	SerialKnown bool
	// Name is the manufacturer's and product's strings, for people
	// (cleaned of control characters, shortened); may be empty.
	Name string
}

// Hub reports whether d is a hub (root hubs included).
func (d Device) Hub() bool { return d.Class == ClassHub }

// ID is vendor:product, as lsusb writes it.
func (d Device) ID() string { return fmt.Sprintf("%04x:%04x", d.Vendor, d.Product) }

// String describes d for a log line: 1-4 (046d:c52b "Logitech USB Receiver").
func (d Device) String() string {
	s := d.Port + " (" + d.ID()
	if d.Name != "" {
		s += " " + strconv.Quote(d.Name)
	}
	switch {
	case !d.SerialKnown:
		s += ", serial unread"
	case d.Serial != "":
		s += ", serial " + strconv.Quote(d.Serial)
	}
	return s + ")"
}

// identity is what tells two devices apart across a re-enumeration.
type identity struct {
	vendor, product uint16
	serial, port    string
}

func (d Device) identity() identity { return identity{d.Vendor, d.Product, d.Serial, d.Port} }

// ParseProduct parses a usb uevent's PRODUCT variable, idVendor/idProduct/bcdDevice
// in hex without leading zeros (drivers/usb/core/driver.c: "%x/%x/%x").
func ParseProduct(s string) (vendor, product uint16, err error) {
	f := strings.Split(s, "/")
	if len(f) != 3 {
		return 0, 0, fmt.Errorf("PRODUCT=%q: want vendor/product/bcdDevice in hex", trunc(s))
	}
	if vendor, err = parseID(f[0]); err != nil {
		return 0, 0, fmt.Errorf("PRODUCT=%q: vendor %w", trunc(s), err)
	}
	if product, err = parseID(f[1]); err != nil {
		return 0, 0, fmt.Errorf("PRODUCT=%q: product %w", trunc(s), err)
	}
	if _, err = parseID(f[2]); err != nil {
		return 0, 0, fmt.Errorf("PRODUCT=%q: bcdDevice %w", trunc(s), err)
	}
	return vendor, product, nil
}

// ParseClass parses the first field of a usb uevent's TYPE (device:
// bDeviceClass/bDeviceSubClass/bDeviceProtocol) or INTERFACE (interface:
// bInterfaceClass/…) variable, in decimal.
func ParseClass(s string) (uint8, error) {
	f := strings.Split(s, "/")
	if len(f) != 3 {
		return 0, fmt.Errorf("%q: want class/subclass/protocol in decimal", trunc(s))
	}
	var c uint8
	for i, x := range f {
		if x == "" || len(x) > 3 || strings.Trim(x, "0123456789") != "" {
			return 0, fmt.Errorf("%q: want class/subclass/protocol in decimal", trunc(s))
		}
		v, err := strconv.ParseUint(x, 10, 8)
		if err != nil {
			return 0, fmt.Errorf("%q: %s is not 0 to 255", trunc(s), x)
		}
		if i == 0 {
			c = uint8(v)
		}
	}
	return c, nil
}

// maxAttr bounds what is read of one sysfs attribute.
const maxAttr = 4096

// readAttr reads a sysfs attribute: its text without the final newline.
func readAttr(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAttr+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxAttr {
		return "", fmt.Errorf("%s: longer than %d bytes", p, maxAttr)
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

// CleanString makes a string from a device (a serial, a product name:
// anyone's device writes them) safe for one log or config comment line:
// invalid UTF-8 and control characters become '?', and it is cut to max
// bytes.
func CleanString(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// sysfs reads USB devices below a root ("/" or a test's fake tree).
type sysfs struct{ root string }

func (s sysfs) path(devpath string) string {
	return filepath.Join(s.root, "sys", filepath.FromSlash(path.Clean("/"+devpath)))
}

// device reads the USB device at devpath from sysfs. The IDs and class
// come from ev when it has them (a uevent carries PRODUCT and TYPE), else
// from sysfs. A missing serial attribute means the device has none; a
// missing device leaves SerialKnown false.
func (s sysfs) device(devpath string, ev *uevent.Event) (Device, error) {
	d := Device{DevPath: path.Clean(devpath), Port: path.Base(devpath)}
	dir := s.path(devpath)
	var idErr error
	if ev != nil && ev.Get("PRODUCT") != "" {
		d.Vendor, d.Product, idErr = ParseProduct(ev.Get("PRODUCT"))
	} else {
		d.Vendor, d.Product, idErr = s.ids(dir)
	}
	if idErr != nil {
		return d, idErr
	}
	var clsErr error
	if ev != nil && ev.Get("TYPE") != "" {
		d.Class, clsErr = ParseClass(ev.Get("TYPE"))
	} else {
		var c string
		if c, clsErr = readAttr(filepath.Join(dir, "bDeviceClass")); clsErr == nil {
			var v uint64
			v, clsErr = strconv.ParseUint(c, 16, 8)
			d.Class = uint8(v)
		}
	}
	if clsErr != nil {
		return d, fmt.Errorf("device class: %w", clsErr)
	}
	serial, err := readAttr(filepath.Join(dir, "serial"))
	switch {
	case err == nil:
		d.Serial, d.SerialKnown = serial, true
		if len(d.Serial) > MaxSerial {
			d.Serial = d.Serial[:MaxSerial]
		}
	case errors.Is(err, fs.ErrNotExist):
		// No serial attribute: the device has none, if it is still there.
		if _, statErr := os.Stat(dir); statErr == nil {
			d.SerialKnown = true
		}
	}
	var names []string
	for _, a := range []string{"manufacturer", "product"} {
		if v, err := readAttr(filepath.Join(dir, a)); err == nil && v != "" {
			names = append(names, v)
		}
	}
	d.Name = CleanString(strings.Join(names, " "), 80)
	return d, nil
}

// ids reads idVendor and idProduct from a device's sysfs directory.
func (s sysfs) ids(dir string) (vendor, product uint16, err error) {
	v, err := readAttr(filepath.Join(dir, "idVendor"))
	if err != nil {
		return 0, 0, err
	}
	p, err := readAttr(filepath.Join(dir, "idProduct"))
	if err != nil {
		return 0, 0, err
	}
	if vendor, err = parseID(v); err != nil {
		return 0, 0, fmt.Errorf("idVendor: %w", err)
	}
	if product, err = parseID(p); err != nil {
		return 0, 0, fmt.Errorf("idProduct: %w", err)
	}
	return vendor, product, nil
}

// List returns the USB devices attached now, hubs included, from
// /sys/bus/usb/devices below root ("" means /), sorted by port. A device
// that cannot be read is left out and named in the error, which joins
// every such problem; the devices that could be read are returned with it.
func List(root string) ([]Device, error) {
	if root == "" {
		root = "/"
	}
	s := sysfs{root: root}
	sysDir := filepath.Join(root, "sys")
	busDir := filepath.Join(sysDir, "bus", "usb", "devices")
	ents, err := os.ReadDir(busDir)
	if err != nil {
		return nil, err
	}
	var devs []Device
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if strings.Contains(name, ":") {
			continue // an interface, 1-4:1.0
		}
		real, err := filepath.EvalSymlinks(filepath.Join(busDir, name))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		rel, err := filepath.Rel(sysDir, real)
		if err != nil || strings.HasPrefix(rel, "..") {
			errs = append(errs, fmt.Errorf("%s: %s is not below %s", name, real, sysDir))
			continue
		}
		d, err := s.device("/"+filepath.ToSlash(rel), nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool { return portLess(devs[i].Port, devs[j].Port) })
	return devs, errors.Join(errs...)
}

// portLess orders port names by bus, then port numbers (1-2 before 1-10).
func portLess(a, b string) bool {
	na, nb := portNumbers(a), portNumbers(b)
	for i := 0; i < len(na) && i < len(nb); i++ {
		if na[i] != nb[i] {
			return na[i] < nb[i]
		}
	}
	if len(na) != len(nb) {
		return len(na) < len(nb)
	}
	return a < b
}

func portNumbers(s string) []int {
	s = strings.TrimPrefix(s, "usb")
	var n []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '.' }) {
		v, _ := strconv.Atoi(f)
		n = append(n, v)
	}
	return n
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

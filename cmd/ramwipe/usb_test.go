package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/usbinsert"
)

// fakeUSB builds a fake /sys with a root hub, a hub, a stick behind it
// (with a serial that needs escaping) and a serial-less mouse.
func fakeUSB(t *testing.T) usbEnv {
	root := t.TempDir()
	bus := filepath.Join(root, "sys/bus/usb/devices")
	require.NoError(t, os.MkdirAll(bus, 0o755))
	usb1 := filepath.Join(root, "sys/devices/pci0000:00/0000:00:14.0/usb1")
	for _, d := range []struct {
		port, dir string
		attrs     map[string]string
	}{
		{"usb1", usb1, map[string]string{"idVendor": "1d6b", "idProduct": "0002", "bDeviceClass": "09", "serial": "0000:00:14.0"}},
		{"1-1", usb1 + "/1-1", map[string]string{"idVendor": "05e3", "idProduct": "0610", "bDeviceClass": "09", "product": "USB2.0 Hub"}},
		{"1-1.3", usb1 + "/1-1/1-1.3", map[string]string{"idVendor": "0781", "idProduct": "5583", "bDeviceClass": "00", "serial": "4C53 0001@x", "manufacturer": "SanDisk", "product": "Ultra Fit"}},
		{"1-2", usb1 + "/1-2", map[string]string{"idVendor": "046d", "idProduct": "c077", "bDeviceClass": "00", "product": "USB Optical\nMouse"}},
	} {
		require.NoError(t, os.MkdirAll(d.dir, 0o755))
		for k, v := range d.attrs {
			require.NoError(t, os.WriteFile(filepath.Join(d.dir, k), []byte(v+"\n"), 0o444))
		}
		rel, err := filepath.Rel(bus, d.dir)
		require.NoError(t, err)
		require.NoError(t, os.Symlink(rel, filepath.Join(bus, d.port)))
		// Interfaces are listed there too, and are not devices.
		if d.port != "usb1" {
			require.NoError(t, os.Symlink(rel, filepath.Join(bus, d.port+":1.0")))
		}
	}
	return usbEnv{root: root, now: func() time.Time { return time.Date(2026, 12, 3, 15, 30, 0, 0, time.UTC) }}
}

const learned = `# ramwipe usb learn, 2026-12-03 15:30: the USB devices attached then (hubs are never judged)
# 1-1.3: SanDisk Ultra Fit, serial 4C53 0001@x
usb_allow = 0781:5583:4C53%200001%40x
# 1-2: USB Optical?Mouse, no serial: any 046d:c077 device passes; add @1-2 to allow it on this port only
usb_allow = 046d:c077
`

func TestUSBLearnPrints(t *testing.T) {
	env := fakeUSB(t)
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, usbCommand(env, []string{"learn"}, &stdout, &stderr), stderr.String())
	assert.Equal(t, learned, stdout.String())
	assert.Empty(t, stderr.String())

	// Every line parses as ramwiped parses it, and allows its device.
	rules, _ := confAllowList(stdout.Bytes())
	require.Len(t, rules, 2)
	devs, err := usbinsert.List(env.root)
	require.NoError(t, err)
	for _, d := range devs {
		if !d.Hub() {
			assert.True(t, allowedBy(rules, d), "%v is allowed", d)
		}
	}
}

func TestUSBLearnPorts(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, usbCommand(fakeUSB(t), []string{"learn", "--ports"}, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "usb_allow = 0781:5583:4C53%200001%40x@1-1.3\n")
	assert.Contains(t, stdout.String(), "usb_allow = 046d:c077@1-2\n")
	assert.Contains(t, stdout.String(), "# 1-2: USB Optical?Mouse, no serial: any 046d:c077 device on this port passes\n")
}

func TestUSBLearnUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"forget"}, {"learn", "--bogus"}, {"learn", "extra"}} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, exitUsageCode, usbCommand(fakeUSB(t), args, &stdout, &stderr), "%q", args)
		assert.NotEmpty(t, stderr.String())
	}
	var stdout, stderr bytes.Buffer
	assert.Equal(t, exitFailed, usbCommand(usbEnv{root: t.TempDir(), now: time.Now}, []string{"learn"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "usb/devices")
}

func TestUSBLearnWrite(t *testing.T) {
	env := fakeUSB(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "ramwipe.conf")
	orig := "# mine\nhotkey = off\nusb_allow = 046d:c077" // no final newline
	require.NoError(t, os.WriteFile(conf, []byte(orig), 0o600))

	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, usbCommand(env, []string{"learn", "--write", "--config", conf}, &stdout, &stderr), stderr.String())
	backup := conf + ".bak-20261203-153000"
	assert.Contains(t, stdout.String(), "backed up "+conf+" to "+backup+"\n")
	assert.Contains(t, stdout.String(), "added 1 usb_allow entries")
	assert.Contains(t, stdout.String(), "set usb_insert = on in "+conf)
	b, err := os.ReadFile(backup)
	require.NoError(t, err)
	assert.Equal(t, orig, string(b), "the backup is the user's file")

	b, err = os.ReadFile(conf)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), orig+"\n\n# ramwipe usb learn, 2026-12-03 15:30"), string(b))
	assert.Contains(t, string(b), "usb_allow = 0781:5583:4C53%200001%40x\n")
	assert.Equal(t, 1, strings.Count(string(b), "usb_allow = 046d:c077"), "the mouse was allowed already")
	st, err := os.Stat(conf)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the mode is kept")

	// Again: nothing new, nothing written, no second backup.
	stdout.Reset()
	require.Equal(t, exitOK, usbCommand(env, []string{"learn", "--write", "--config", conf}, &stdout, &stderr))
	assert.Contains(t, stdout.String(), "nothing written")
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, ents, 2, "the file and one backup; no temporary file left")
}

func TestUSBLearnWriteSecondBackup(t *testing.T) {
	env := fakeUSB(t)
	conf := filepath.Join(t.TempDir(), "ramwipe.conf")
	require.NoError(t, os.WriteFile(conf, []byte("usb_insert = on\n"), 0o644))
	require.NoError(t, os.WriteFile(conf+".bak-20261203-153000", []byte("older"), 0o644))
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, usbCommand(env, []string{"learn", "--write", "--config", conf}, &stdout, &stderr), stderr.String())
	assert.Contains(t, stdout.String(), "to "+conf+".bak-20261203-153000.1\n")
	assert.Contains(t, stdout.String(), "now systemctl restart ramwiped")
	b, _ := os.ReadFile(conf + ".bak-20261203-153000")
	assert.Equal(t, "older", string(b), "an older backup is never overwritten")
}

func TestUSBLearnWriteNewFile(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "ramwipe.conf")
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, usbCommand(fakeUSB(t), []string{"learn", "--write", "--config", conf}, &stdout, &stderr), stderr.String())
	assert.NotContains(t, stdout.String(), "backed up")
	b, err := os.ReadFile(conf)
	require.NoError(t, err)
	assert.Equal(t, learned, string(b))
}

func TestUSBLearnWriteFails(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "missing-dir", "ramwipe.conf")
	var stdout, stderr bytes.Buffer
	assert.Equal(t, exitFailed, usbCommand(fakeUSB(t), []string{"learn", "--write", "--config", conf}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "is unchanged")
}

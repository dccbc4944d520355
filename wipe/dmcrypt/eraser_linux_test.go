package dmcrypt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// fakeDev is a device of the fake device-mapper.
type fakeDev struct {
	uuid      string
	targets   []Target
	suspended bool
	wiped     []uint64 // sectors whose target took "key wipe"
}

// call is one ioctl the fake received.
type call struct {
	op     string // LIST, STATUS, SUSPEND, MSG
	name   string
	flags  uint32
	size   int    // len(buf)
	sector uint64 // MSG
	msg    string // MSG
}

func (c call) String() string {
	if c.op == "MSG" {
		return fmt.Sprintf("MSG %s %d %s", c.name, c.sector, c.msg)
	}
	return c.op + " " + c.name
}

// fakeDM is device-mapper at the message level: it decodes each request
// buffer and answers in it as drivers/md/dm-ioctl.c does. Tests steer it
// with hooks. It fails the test if any request asks for a table.
type fakeDM struct {
	t *testing.T

	mu    sync.Mutex
	devs  map[string]*fakeDev
	calls []call
	msgs  [][]byte // every DM_TARGET_MSG buffer, to check it was cleared
	// before runs before a call is answered, outside the lock; it may
	// block, and a non-nil error is the ioctl's.
	before func(c call) error
}

func newFake(t *testing.T, devs map[string]*fakeDev) *fakeDM {
	return &fakeDM{t: t, devs: devs}
}

func (f *fakeDM) close() error { return nil }

func (f *fakeDM) ioctl(cmd uint, buf []byte) error {
	if len(buf) < hdrSize {
		f.t.Errorf("ioctl %#x: %d-byte buffer", cmd, len(buf))
		return unix.EFAULT
	}
	c := call{
		name:  cstring(buf[hdrName : hdrName+unix.DM_NAME_LEN]),
		flags: ne.Uint32(buf[hdrFlags:]),
		size:  len(buf),
	}
	switch {
	case ne.Uint32(buf[hdrVersion:]) != 4:
		f.t.Errorf("ioctl %#x %q: version %d", cmd, c.name, ne.Uint32(buf[hdrVersion:]))
	case ne.Uint32(buf[hdrDataSize:]) != uint32(len(buf)):
		f.t.Errorf("ioctl %#x %q: data_size %d, buffer %d", cmd, c.name, ne.Uint32(buf[hdrDataSize:]), len(buf))
	case ne.Uint32(buf[hdrDataStart:]) != hdrSize:
		f.t.Errorf("ioctl %#x %q: data_start %d", cmd, c.name, ne.Uint32(buf[hdrDataStart:]))
	case c.flags&unix.DM_STATUS_TABLE_FLAG != 0:
		f.t.Errorf("ioctl %#x %q: DM_STATUS_TABLE_FLAG: dm-crypt would answer with its key", cmd, c.name)
	}
	switch cmd {
	case unix.DM_LIST_DEVICES:
		c.op = "LIST"
	case unix.DM_TABLE_STATUS:
		c.op = "STATUS"
	case unix.DM_DEV_SUSPEND:
		c.op = "SUSPEND"
	case unix.DM_TARGET_MSG:
		c.op = "MSG"
		c.sector = ne.Uint64(buf[hdrSize:])
		c.msg = cstring(buf[hdrSize+8:])
	default:
		f.t.Errorf("ioctl %#x: unexpected command", cmd)
		return unix.ENOTTY
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	if c.op == "MSG" {
		f.msgs = append(f.msgs, buf)
	}
	before := f.before
	f.mu.Unlock()
	if before != nil {
		if err := before(c); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// The kernel clears these, then answers (validate_params, ctl_ioctl).
	flags := c.flags &^ (unix.DM_BUFFER_FULL_FLAG | unix.DM_SECURE_DATA_FLAG)
	ne.PutUint32(buf[hdrDataSize:], hdrMinDataSize)
	setData := func(data []byte) {
		if len(buf)-hdrSize < len(data) {
			flags |= unix.DM_BUFFER_FULL_FLAG
			return
		}
		copy(buf[hdrSize:], data)
		ne.PutUint32(buf[hdrDataSize:], uint32(hdrSize+len(data)))
	}
	defer func() { ne.PutUint32(buf[hdrFlags:], flags) }()

	if c.op == "LIST" {
		var es []nameEntry
		for _, n := range slices.Sorted(maps.Keys(f.devs)) {
			es = append(es, nameEntry{dev: 1, name: n})
		}
		setData(kernelNameList(es, false))
		return nil
	}
	d := f.devs[c.name]
	if d == nil {
		return unix.ENXIO
	}
	copy(buf[hdrUUID:hdrUUID+unix.DM_UUID_LEN], d.uuid)
	switch c.op {
	case "STATUS":
		ne.PutUint32(buf[hdrTargetCount:], uint32(len(d.targets)))
		setData(kernelTargetSpecs(d.targets, nil))
	case "SUSPEND":
		if c.flags != suspendFlags {
			f.t.Errorf("DM_DEV_SUSPEND %q: flags %#x, want %#x", c.name, c.flags, suspendFlags)
		}
		d.suspended = true
		flags |= unix.DM_SUSPEND_FLAG
	case "MSG":
		if c.flags != unix.DM_SECURE_DATA_FLAG {
			f.t.Errorf("DM_TARGET_MSG %q: flags %#x, want DM_SECURE_DATA_FLAG", c.name, c.flags)
		}
		i := slices.IndexFunc(d.targets, func(t Target) bool { return t.Start <= c.sector && c.sector < t.Start+t.Length })
		if !d.suspended || i < 0 || d.targets[i].Type != cryptType || c.msg != keyWipe {
			return unix.EINVAL
		}
		d.wiped = append(d.wiped, d.targets[i].Start)
	}
	return nil
}

// got returns the calls, as strings, with op among ops.
func (f *fakeDM) got(ops ...string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if slices.Contains(ops, c.op) {
			out = append(out, c.String())
		}
	}
	return out
}

// machine is three dm devices: a LUKS2 root, LVM on it, and a data volume
// with two crypt targets around a linear one.
func machine() map[string]*fakeDev {
	return map[string]*fakeDev{
		"cryptroot": {uuid: "CRYPT-LUKS2-1111-cryptroot", targets: []Target{{"crypt", 0, 1 << 30}}},
		"vg-root":   {uuid: "LVM-abcd", targets: []Target{{"linear", 0, 1 << 29}}},
		"cryptdata": {uuid: "CRYPT-PLAIN-cryptdata", targets: []Target{{"crypt", 0, 100}, {"linear", 100, 50}, {"crypt", 150, 100}}},
	}
}

func TestDevices(t *testing.T) {
	dm := newFake(t, machine())
	e := newEraser(dm, initialBufSize)
	devs, err := e.Devices()
	require.NoError(t, err)
	assert.Equal(t, []Device{
		{Name: "cryptdata", UUID: "CRYPT-PLAIN-cryptdata", Crypt: []Target{{"crypt", 0, 100}, {"crypt", 150, 100}}},
		{Name: "cryptroot", UUID: "CRYPT-LUKS2-1111-cryptroot", Crypt: []Target{{"crypt", 0, 1 << 30}}},
	}, devs)
	assert.Equal(t, []string{"cryptdata", "cryptroot"}, Names(devs))
	assert.Equal(t, []string{"LIST ", "STATUS cryptdata", "STATUS cryptroot", "STATUS vg-root"}, dm.got("LIST", "STATUS", "SUSPEND", "MSG"),
		"listing suspends nothing and sends no message")
	for _, c := range dm.calls {
		if c.op == "STATUS" {
			assert.Equal(t, uint32(unix.DM_NOFLUSH_FLAG), c.flags, "DM_TABLE_STATUS flags")
		}
	}
}

func TestDevicesNone(t *testing.T) {
	devs, err := newEraser(newFake(t, nil), initialBufSize).Devices()
	require.NoError(t, err)
	assert.Empty(t, devs)
}

// Answers that do not fit are asked for again in a bigger buffer.
func TestDevicesBufferFull(t *testing.T) {
	devs := map[string]*fakeDev{}
	var want []string
	for i := range 40 {
		n := fmt.Sprintf("crypt%02d-%s", i, strings.Repeat("x", 100))
		devs[n] = &fakeDev{targets: []Target{{"crypt", 0, 8}}}
		want = append(want, n)
	}
	// A device with many targets: its status needs more than 1 KiB.
	var many []Target
	for i := range 60 {
		many = append(many, Target{"linear", uint64(i) * 8, 8})
	}
	devs["many"] = &fakeDev{targets: append(many, Target{"crypt", 480, 8})}
	want = append(want, "many")
	dm := newFake(t, devs)
	got, err := newEraser(dm, 1024).Devices()
	require.NoError(t, err)
	assert.Equal(t, want, Names(got))
	var sizes []int
	for _, c := range dm.calls {
		if c.op == "LIST" {
			sizes = append(sizes, c.size)
		}
	}
	assert.Equal(t, []int{1024, 2048, 4096, 8192}, sizes, "DM_LIST_DEVICES buffer sizes")
}

func TestDevicesErrors(t *testing.T) {
	tests := []struct {
		name    string
		fail    map[string]error // "OP name" → error
		want    []string
		wantErr string
	}{
		{
			name: "list refused", fail: map[string]error{"LIST ": unix.EACCES},
			wantErr: "DM_LIST_DEVICES: permission denied — device-mapper needs root (CAP_SYS_ADMIN)",
		},
		{
			name: "a device removed since the list", fail: map[string]error{"STATUS cryptdata": unix.ENXIO},
			want: []string{"cryptroot"},
		},
		{
			name: "one status fails", fail: map[string]error{"STATUS cryptroot": unix.EIO},
			want: []string{"cryptdata"}, wantErr: `DM_TABLE_STATUS "cryptroot": input/output error`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dm := newFake(t, machine())
			dm.before = func(c call) error { return tt.fail[c.String()] }
			got, err := newEraser(dm, initialBufSize).Devices()
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.want, Names(got))
		})
	}
}

func TestErase(t *testing.T) {
	devs := machine()
	dm := newFake(t, devs)
	var logs []string
	var mu sync.Mutex
	e := newEraser(dm, initialBufSize)
	e.Logf = func(f string, a ...any) {
		mu.Lock()
		logs = append(logs, fmt.Sprintf(f, a...))
		mu.Unlock()
	}
	rep := e.Erase(context.Background())
	require.NoError(t, rep.Err())
	require.NoError(t, rep.ListErr)

	require.Len(t, rep.Devices, 2)
	for _, d := range rep.Devices {
		assert.True(t, d.Suspended, d.Name)
		assert.Equal(t, len(d.Crypt), d.KeysWiped, d.Name)
		assert.False(t, d.TimedOut, d.Name)
		assert.NoError(t, d.Err, d.Name)
		assert.Positive(t, d.Duration, d.Name)
	}
	assert.Equal(t, []uint64{0, 150}, devs["cryptdata"].wiped)
	assert.Equal(t, []uint64{0}, devs["cryptroot"].wiped)
	assert.False(t, devs["vg-root"].suspended, "a device without crypt targets is left alone")

	// Per device: the suspend, then its key wipes in table order.
	calls := dm.got("SUSPEND", "MSG")
	var root, data []string
	for _, c := range calls {
		if strings.Contains(c, "cryptroot") {
			root = append(root, c)
		} else {
			data = append(data, c)
		}
	}
	assert.Equal(t, []string{"SUSPEND cryptroot", "MSG cryptroot 0 key wipe"}, root)
	assert.Equal(t, []string{"SUSPEND cryptdata", "MSG cryptdata 0 key wipe", "MSG cryptdata 150 key wipe"}, data)

	// Every message buffer was cleared after use.
	for _, b := range dm.msgs {
		assert.Equal(t, make([]byte, len(b)), b, "DM_TARGET_MSG buffer after use")
	}
	assert.Len(t, logs, 2)
	for _, l := range logs {
		assert.NotContains(t, l, "aes", "logs carry no table")
	}
	assert.NoError(t, e.EraseKeys(context.Background()), "EraseKeys")
}

// A device opened after arming is erased too; one closed is skipped.
func TestEraseListsAgain(t *testing.T) {
	devs := machine()
	dm := newFake(t, devs)
	e := newEraser(dm, initialBufSize)
	_, err := e.Devices()
	require.NoError(t, err)
	dm.mu.Lock()
	devs["cryptusb"] = &fakeDev{targets: []Target{{"crypt", 0, 8}}}
	delete(devs, "cryptdata")
	dm.mu.Unlock()
	rep := e.Erase(context.Background())
	require.NoError(t, rep.Err())
	assert.Equal(t, []string{"cryptdata", "cryptroot", "cryptusb"}, Names(reportDevices(rep)))
	gone := rep.Devices[0]
	assert.True(t, gone.Gone, "cryptdata was closed since arming")
	assert.False(t, gone.Suspended)
	assert.Equal(t, 0, gone.KeysWiped)
	assert.Equal(t, []string{"SUSPEND cryptdata", "SUSPEND cryptroot", "SUSPEND cryptusb"}, sorted(dm.got("SUSPEND")))
	assert.Equal(t, []string{"MSG cryptroot 0 key wipe", "MSG cryptusb 0 key wipe"}, sorted(dm.got("MSG")), "nothing is sent to a device that is gone")
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

// A device whose crypt targets moved since arming is erased with its
// targets as they are now, too.
func TestEraseTargetsChanged(t *testing.T) {
	devs := machine()
	dm := newFake(t, devs)
	e := newEraser(dm, initialBufSize)
	_, err := e.Devices()
	require.NoError(t, err)
	dm.mu.Lock()
	devs["cryptdata"].targets = []Target{{"crypt", 0, 100}, {"crypt", 100, 150}}
	dm.mu.Unlock()
	rep := e.Erase(context.Background())
	assert.Equal(t, []string{"MSG cryptdata 0 key wipe", "MSG cryptdata 0 key wipe", "MSG cryptdata 100 key wipe", "MSG cryptdata 150 key wipe", "MSG cryptroot 0 key wipe"}, sorted(dm.got("MSG")))
	// The old list's sector 150 now falls in the target at 100: each
	// target is wiped twice, which is harmless.
	assert.ElementsMatch(t, []uint64{0, 0, 100, 100}, devs["cryptdata"].wiped)
	assert.NoError(t, rep.Err())
}

// If listing blocks, the devices listed when arming are erased anyway.
func TestEraseListBlocks(t *testing.T) {
	dm := newFake(t, machine())
	e := newEraser(dm, initialBufSize)
	_, err := e.Devices()
	require.NoError(t, err)
	unblock := make(chan struct{})
	defer close(unblock)
	dm.mu.Lock()
	dm.before = func(c call) error {
		if c.op == "LIST" {
			<-unblock
		}
		return nil
	}
	dm.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	finished := 0
	e.Logf = func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(fmt.Sprintf(f, a...), "keys wiped") {
			if finished++; finished == 2 {
				cancel() // both known devices done; the listing still blocks
			}
		}
	}
	rep := e.Erase(ctx)
	assert.ErrorIs(t, rep.ListErr, ErrTimedOut)
	assert.ErrorContains(t, rep.Err(), "DM_LIST_DEVICES or DM_TABLE_STATUS: no answer before the deadline")
	require.Len(t, rep.Devices, 2)
	for _, d := range rep.Devices {
		assert.NoError(t, d.Err, d.Name)
		assert.Equal(t, len(d.Crypt), d.KeysWiped, d.Name)
	}
}

func reportDevices(r Report) []Device {
	var ds []Device
	for _, d := range r.Devices {
		ds = append(ds, d.Device)
	}
	return ds
}

// If listing fails at erase time, the devices listed when arming are
// erased all the same.
func TestEraseListFails(t *testing.T) {
	dm := newFake(t, machine())
	e := newEraser(dm, initialBufSize)
	_, err := e.Devices()
	require.NoError(t, err)
	dm.before = func(c call) error {
		if c.op == "LIST" {
			return unix.ENOMEM
		}
		return nil
	}
	rep := e.Erase(context.Background())
	require.ErrorIs(t, rep.ListErr, unix.ENOMEM)
	assert.ErrorContains(t, rep.Err(), "DM_LIST_DEVICES: cannot allocate memory")
	assert.Equal(t, []string{"cryptdata", "cryptroot"}, Names(reportDevices(rep)))
	for _, d := range rep.Devices {
		assert.NoError(t, d.Err)
		assert.Equal(t, len(d.Crypt), d.KeysWiped)
	}
}

// A failure is recorded and stops nothing: not the device's other steps,
// not the other devices.
func TestEraseFailuresDoNotStop(t *testing.T) {
	tests := []struct {
		name     string
		fail     map[string]error
		wantErrs []string
		wantMsgs []string
		wiped    map[string]int
	}{
		{
			name:     "suspend fails",
			fail:     map[string]error{"SUSPEND cryptroot": unix.EIO},
			wantErrs: []string{`DM_DEV_SUSPEND "cryptroot": input/output error`, `DM_TARGET_MSG "cryptroot" sector 0 "key wipe": invalid argument — the device is not suspended`},
			wantMsgs: []string{"MSG cryptdata 0 key wipe", "MSG cryptdata 150 key wipe", "MSG cryptroot 0 key wipe"},
			wiped:    map[string]int{"cryptroot": 0, "cryptdata": 2},
		},
		{
			name:     "first key wipe fails",
			fail:     map[string]error{"MSG cryptdata 0 key wipe": unix.ENOMEM},
			wantErrs: []string{`DM_TARGET_MSG "cryptdata" sector 0 "key wipe": cannot allocate memory`},
			wantMsgs: []string{"MSG cryptdata 0 key wipe", "MSG cryptdata 150 key wipe", "MSG cryptroot 0 key wipe"},
			wiped:    map[string]int{"cryptroot": 1, "cryptdata": 1},
		},
		{
			name: "everything fails",
			fail: map[string]error{
				"SUSPEND cryptroot": unix.EIO, "SUSPEND cryptdata": unix.EIO,
				"MSG cryptroot 0 key wipe": unix.EIO, "MSG cryptdata 0 key wipe": unix.EIO, "MSG cryptdata 150 key wipe": unix.EIO,
			},
			wantErrs: []string{`DM_DEV_SUSPEND "cryptroot"`, `DM_DEV_SUSPEND "cryptdata"`, `"cryptdata" sector 150`},
			wantMsgs: []string{"MSG cryptdata 0 key wipe", "MSG cryptdata 150 key wipe", "MSG cryptroot 0 key wipe"},
			wiped:    map[string]int{"cryptroot": 0, "cryptdata": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dm := newFake(t, machine())
			dm.before = func(c call) error { return tt.fail[c.String()] }
			rep := newEraser(dm, initialBufSize).Erase(context.Background())
			err := rep.Err()
			for _, w := range tt.wantErrs {
				assert.ErrorContains(t, err, w)
			}
			msgs := dm.got("MSG")
			slices.Sort(msgs)
			assert.Equal(t, tt.wantMsgs, msgs)
			for _, d := range rep.Devices {
				assert.Equal(t, tt.wiped[d.Name], d.KeysWiped, d.Name)
				assert.Equal(t, tt.wiped[d.Name] == len(d.Crypt), d.Err == nil, "%s: %v", d.Name, d.Err)
			}
		})
	}
}

// All devices are suspended at once: each suspend waits until every
// device has entered its own.
func TestEraseParallel(t *testing.T) {
	dm := newFake(t, machine())
	entered := make(chan string, 2)
	release := make(chan struct{})
	dm.before = func(c call) error {
		if c.op == "SUSPEND" {
			entered <- c.name
			<-release
		}
		return nil
	}
	done := make(chan Report, 1)
	go func() { done <- newEraser(dm, initialBufSize).Erase(context.Background()) }()
	var in []string
	for range 2 {
		select {
		case n := <-entered:
			in = append(in, n)
		case <-time.After(5 * time.Second):
			close(release)
			t.Fatalf("suspends entered: %q; the devices are not erased in parallel", in)
		}
	}
	close(release)
	assert.ElementsMatch(t, []string{"cryptroot", "cryptdata"}, in)
	require.NoError(t, (<-done).Err())
}

// A device stuck in an ioctl is reported as timed out, with the ioctl it
// is stuck in; the others finish.
func TestEraseTimeout(t *testing.T) {
	tests := []struct {
		name      string
		stuck     string // the call that never returns
		wantStep  string
		suspended bool
		wiped     int
	}{
		{name: "in suspend", stuck: "SUSPEND cryptdata", wantStep: `DM_DEV_SUSPEND "cryptdata": no answer before the deadline`},
		{name: "in the second key wipe", stuck: "MSG cryptdata 150 key wipe", wantStep: `DM_TARGET_MSG "cryptdata" sector 150 "key wipe": no answer before the deadline`, suspended: true, wiped: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dm := newFake(t, machine())
			stuck, unblock := make(chan struct{}), make(chan struct{})
			defer close(unblock)
			dm.before = func(c call) error {
				if c.String() == tt.stuck {
					close(stuck)
					<-unblock
				}
				return nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e := newEraser(dm, initialBufSize)
			// Once cryptroot is done (it logs then) and cryptdata is
			// stuck, give up.
			rootDone := make(chan struct{})
			e.Logf = func(f string, a ...any) {
				if strings.Contains(fmt.Sprintf(f, a...), `"cryptroot": suspended`) {
					close(rootDone)
				}
			}
			go func() {
				<-stuck
				<-rootDone
				cancel()
			}()
			rep := e.Erase(ctx)
			require.Len(t, rep.Devices, 2)
			data, root := rep.Devices[0], rep.Devices[1]
			require.Equal(t, "cryptdata", data.Name)

			assert.NoError(t, root.Err)
			assert.False(t, root.TimedOut)
			assert.Equal(t, 1, root.KeysWiped)

			assert.True(t, data.TimedOut)
			assert.ErrorIs(t, data.Err, ErrTimedOut)
			assert.ErrorContains(t, data.Err, tt.wantStep)
			assert.Equal(t, tt.suspended, data.Suspended)
			assert.Equal(t, tt.wiped, data.KeysWiped)
			assert.ErrorIs(t, rep.Err(), ErrTimedOut)
		})
	}
}

// Timeout bounds each device even without a context deadline.
func TestEraseTimeoutField(t *testing.T) {
	dm := newFake(t, map[string]*fakeDev{"stuck": {targets: []Target{{"crypt", 0, 8}}}})
	unblock := make(chan struct{})
	defer close(unblock)
	dm.before = func(c call) error {
		if c.op == "SUSPEND" {
			<-unblock
		}
		return nil
	}
	e := newEraser(dm, initialBufSize)
	e.Timeout = 100 * time.Millisecond // the listing before it must fit in too, on a loaded machine
	rep := e.Erase(context.Background())
	require.Len(t, rep.Devices, 1)
	assert.True(t, rep.Devices[0].TimedOut)
	assert.ErrorIs(t, rep.Err(), ErrTimedOut)
	assert.Positive(t, rep.Devices[0].Duration)
}

func TestEraseNothing(t *testing.T) {
	rep := newEraser(newFake(t, map[string]*fakeDev{"vg-root": {targets: []Target{{"linear", 0, 8}}}}), initialBufSize).Erase(context.Background())
	assert.NoError(t, rep.Err())
	assert.Empty(t, rep.Devices)
}

// The real control node is never opened, and never suspends or sends a
// message, in a test binary.
func TestRealControlRefusedInTests(t *testing.T) {
	_, err := Open()
	assert.ErrorIs(t, err, ErrInTest)
	for _, cmd := range []uint{unix.DM_DEV_SUSPEND, unix.DM_TARGET_MSG} {
		buf := make([]byte, hdrSize)
		require.NoError(t, encodeRequest(buf, "cryptroot", 0, nil))
		assert.ErrorIs(t, (&control{}).ioctl(cmd, buf), ErrInTest)
	}
}

// openControl fails cleanly without device-mapper, or on a file that is
// not its control node (a regular file answers ENOTTY to DM_VERSION, the
// only ioctl it gets here).
func TestOpenControl(t *testing.T) {
	_, err := openControl(filepath.Join(t.TempDir(), "control"))
	assert.ErrorIs(t, err, ErrNoDeviceMapper)
	assert.ErrorIs(t, err, fs.ErrNotExist)

	p := filepath.Join(t.TempDir(), "control")
	require.NoError(t, os.WriteFile(p, nil, 0o600))
	_, err = openControl(p)
	assert.ErrorIs(t, err, unix.ENOTTY)
	assert.ErrorContains(t, err, "DM_VERSION on "+p+": inappropriate ioctl for device — not a device-mapper control node")
}

// control checks a buffer before handing it to the kernel.
func TestControlChecksBuffer(t *testing.T) {
	c := &control{} // no fd: every case must fail before the syscall
	overrun := make([]byte, hdrSize)
	require.NoError(t, encodeRequest(overrun, "", 0, nil))
	ne.PutUint32(overrun[hdrDataSize:], hdrSize+1)
	table := make([]byte, hdrSize)
	require.NoError(t, encodeRequest(table, "a", 0, nil))
	ne.PutUint32(table[hdrFlags:], unix.DM_STATUS_TABLE_FLAG)
	remove := make([]byte, hdrSize)
	require.NoError(t, encodeRequest(remove, "a", 0, nil))

	assert.ErrorContains(t, c.ioctl(unix.DM_LIST_DEVICES, make([]byte, 100)), "shorter than struct dm_ioctl")
	assert.ErrorContains(t, c.ioctl(unix.DM_LIST_DEVICES, overrun), "overruns")
	assert.True(t, errors.Is(c.ioctl(unix.DM_TABLE_STATUS, table), errTableFlag))
	assert.ErrorContains(t, c.ioctl(unix.DM_DEV_REMOVE, remove), "not a command this package issues")
}

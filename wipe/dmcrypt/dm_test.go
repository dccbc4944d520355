package dmcrypt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestLayout(t *testing.T) {
	// struct dm_ioctl, include/uapi/linux/dm-ioctl.h (4.x ABI).
	var h unix.DmIoctl
	assert.Equal(t, uintptr(312), unsafe.Sizeof(h))
	assert.Equal(t, uintptr(12), unsafe.Offsetof(h.Data_size))
	assert.Equal(t, uintptr(16), unsafe.Offsetof(h.Data_start))
	assert.Equal(t, uintptr(20), unsafe.Offsetof(h.Target_count))
	assert.Equal(t, uintptr(28), unsafe.Offsetof(h.Flags))
	assert.Equal(t, uintptr(40), unsafe.Offsetof(h.Dev))
	assert.Equal(t, uintptr(48), unsafe.Offsetof(h.Name))
	assert.Equal(t, uintptr(176), unsafe.Offsetof(h.Uuid))
	var s unix.DmTargetSpec
	assert.Equal(t, uintptr(40), unsafe.Sizeof(s))
	assert.Equal(t, uintptr(20), unsafe.Offsetof(s.Next))
	assert.Equal(t, uintptr(24), unsafe.Offsetof(s.Target_type))
}

func TestRequest(t *testing.T) {
	buf, err := request(0, "cryptroot", unix.DM_SECURE_DATA_FLAG, targetMsg(2048, "key wipe"))
	require.NoError(t, err)
	require.Len(t, buf, 312+8+9)
	assert.Equal(t, []byte{4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, buf[:12], "version 4.0.0")
	assert.Equal(t, uint32(len(buf)), binary.LittleEndian.Uint32(buf[12:]))
	assert.Equal(t, uint32(312), binary.LittleEndian.Uint32(buf[16:]))
	assert.Equal(t, uint32(unix.DM_SECURE_DATA_FLAG), binary.LittleEndian.Uint32(buf[28:]))
	assert.Equal(t, "cryptroot\x00", string(buf[48:58]))
	assert.Equal(t, uint64(2048), binary.LittleEndian.Uint64(buf[312:]))
	assert.Equal(t, "key wipe\x00", string(buf[320:]))

	_, err = request(0, string(make([]byte, 128)), 0, nil)
	assert.Error(t, err)
}

// nameList encodes a DM_LIST_DEVICES reply as the kernel does.
func nameList(names ...string) []byte {
	var out []byte
	for i, n := range names {
		e := make([]byte, 12, 64)
		binary.LittleEndian.PutUint64(e, uint64(253<<8|i))
		e = append(e, n...)
		e = append(e, 0)
		for len(e)%8 != 0 || len(e) < 16 {
			e = append(e, 0)
		}
		e = append(e, make([]byte, 8)...) // event_nr, flags
		if i < len(names)-1 {
			binary.LittleEndian.PutUint32(e[8:], uint32(len(e)))
		}
		out = append(out, e...)
	}
	return out
}

func TestParseNameList(t *testing.T) {
	got, err := ParseNameList(nameList("cryptroot", "cryptswap", "vg-home"))
	require.NoError(t, err)
	assert.Equal(t, []string{"cryptroot", "cryptswap", "vg-home"}, got)

	got, err = ParseNameList(make([]byte, 16))
	require.NoError(t, err)
	assert.Empty(t, got, "no devices")

	bad := nameList("a", "b")
	binary.LittleEndian.PutUint32(bad[8:], 4096)
	_, err = ParseNameList(bad)
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = ParseNameList([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'x'})
	assert.ErrorIs(t, err, ErrMalformed, "unterminated")
}

// targets encodes a DM_TABLE_STATUS reply's data area.
func targets(ts ...Target) []byte {
	var out []byte
	for i, tg := range ts {
		s := make([]byte, 40, 48)
		binary.LittleEndian.PutUint64(s, tg.Start)
		binary.LittleEndian.PutUint64(s[8:], tg.Length)
		copy(s[24:], tg.Type)
		s = append(s, make([]byte, 8)...) // an empty status string, aligned
		if i < len(ts)-1 {
			binary.LittleEndian.PutUint32(s[20:], uint32(len(out)+len(s)))
		}
		out = append(out, s...)
	}
	return out
}

func TestParseTargets(t *testing.T) {
	want := []Target{{0, 2048, "linear"}, {2048, 1 << 20, "crypt"}}
	got, err := ParseTargets(targets(want...), 2)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	_, err = ParseTargets(targets(want...), 3)
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = ParseTargets(nil, -1)
	assert.ErrorIs(t, err, ErrMalformed)
}

// fakeDM is a device-mapper with the given devices, at the message level.
type fakeDM struct {
	mu    sync.Mutex
	devs  map[string][]Target
	calls []string
	fail  map[string]error // "SUSPEND name" → error
	block chan struct{}    // when set, suspends wait on it
}

func (f *fakeDM) ioctl(cmd uintptr, buf []byte) error {
	h := header(buf)
	name := unix.ByteSliceToString(h.Name[:])
	if h.Flags&unix.DM_STATUS_TABLE_FLAG != 0 {
		panic("asked device-mapper for a table: it would print the keys")
	}
	var op string
	switch cmd {
	case unix.DM_LIST_DEVICES:
		var names []string
		for n := range f.devs {
			names = append(names, n)
		}
		copy(buf[312:], nameList(names...))
		return nil
	case unix.DM_TABLE_STATUS:
		ts := f.devs[name]
		h.Target_count = uint32(len(ts))
		copy(buf[312:], targets(ts...))
		return nil
	case unix.DM_DEV_SUSPEND:
		op = "SUSPEND " + name
		if h.Flags != unix.DM_SUSPEND_FLAG|unix.DM_NOFLUSH_FLAG|unix.DM_SKIP_LOCKFS_FLAG {
			op += " BADFLAGS"
		}
		if f.block != nil {
			<-f.block
		}
	case unix.DM_TARGET_MSG:
		op = fmt.Sprintf("MSG %s %d %s", name, binary.LittleEndian.Uint64(buf[312:]), unix.ByteSliceToString(buf[320:]))
		if h.Flags != unix.DM_SECURE_DATA_FLAG {
			op += " INSECURE"
		}
	}
	f.mu.Lock()
	f.calls = append(f.calls, op)
	f.mu.Unlock()
	return f.fail[op]
}

func TestEraseKeys(t *testing.T) {
	dm := &fakeDM{devs: map[string][]Target{
		"cryptroot": {{0, 100, "crypt"}},
		"vg-root":   {{0, 100, "linear"}},
		"cryptdata": {{0, 10, "crypt"}, {10, 20, "linear"}, {30, 10, "crypt"}},
	}}
	e := &Eraser{dm: dm}
	devs, err := e.Devices()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"cryptroot", "cryptdata"}, Names(devs))

	require.NoError(t, e.EraseKeys(context.Background()))
	assert.ElementsMatch(t, []string{
		"SUSPEND cryptroot", "MSG cryptroot 0 key wipe",
		"SUSPEND cryptdata", "MSG cryptdata 0 key wipe", "MSG cryptdata 30 key wipe",
	}, dm.calls)
	// Per device: suspend, then its key wipes.
	pos := map[string]int{}
	for i, c := range dm.calls {
		pos[c] = i
	}
	assert.Less(t, pos["SUSPEND cryptdata"], pos["MSG cryptdata 0 key wipe"])
	assert.Less(t, pos["SUSPEND cryptroot"], pos["MSG cryptroot 0 key wipe"])
}

func TestEraseKeysFailuresDoNotStopOthers(t *testing.T) {
	dm := &fakeDM{
		devs: map[string][]Target{"a": {{0, 1, "crypt"}}, "b": {{0, 1, "crypt"}}},
		fail: map[string]error{"SUSPEND a": unix.EIO},
	}
	err := (&Eraser{dm: dm}).EraseKeys(context.Background())
	assert.ErrorContains(t, err, `DM_DEV_SUSPEND "a": input/output error`)
	assert.Contains(t, dm.calls, "MSG a 0 key wipe", "a failed suspend still tries the key wipe")
	assert.Contains(t, dm.calls, "MSG b 0 key wipe")
}

func TestEraseKeysDeadline(t *testing.T) {
	dm := &fakeDM{devs: map[string][]Target{"stuck": {{0, 1, "crypt"}}}, block: make(chan struct{})}
	defer close(dm.block)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := (&Eraser{dm: dm}).EraseKeys(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestRealControlRefusedInTests(t *testing.T) {
	e := &Eraser{dm: control{}}
	assert.True(t, errors.Is(e.EraseKeys(context.Background()), ErrInTest))
}

func FuzzParseNameList(f *testing.F) {
	f.Add(nameList("cryptroot", "b"))
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, d []byte) {
		names, err := ParseNameList(d)
		if err == nil && len(names) > len(d) {
			t.Fatalf("%d names from %d bytes", len(names), len(d))
		}
	})
}

func FuzzParseTargets(f *testing.F) {
	f.Add(targets(Target{0, 8, "crypt"}, Target{8, 8, "linear"}), 2)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, d []byte, n int) {
		ts, err := ParseTargets(d, n)
		if err == nil && len(ts) != n {
			t.Fatalf("ParseTargets(%d bytes, %d) = %d targets", len(d), n, len(ts))
		}
	})
}

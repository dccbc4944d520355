package dmcrypt

import (
	"bytes"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The offsets the codec writes and reads, against x/sys/unix's types
// (include/uapi/linux/dm-ioctl.h, ioctl interface 4).
func TestDmIoctlLayout(t *testing.T) {
	var h unix.DmIoctl
	assert.Equal(t, uintptr(312), unsafe.Sizeof(h))
	assert.Equal(t, uintptr(hdrSize), unsafe.Sizeof(h))
	assert.Equal(t, uintptr(hdrVersion), unsafe.Offsetof(h.Version))
	assert.Equal(t, uintptr(hdrDataSize), unsafe.Offsetof(h.Data_size))
	assert.Equal(t, uintptr(hdrDataStart), unsafe.Offsetof(h.Data_start))
	assert.Equal(t, uintptr(hdrTargetCount), unsafe.Offsetof(h.Target_count))
	assert.Equal(t, uintptr(hdrFlags), unsafe.Offsetof(h.Flags))
	assert.Equal(t, uintptr(hdrName), unsafe.Offsetof(h.Name))
	assert.Equal(t, uintptr(hdrUUID), unsafe.Offsetof(h.Uuid))
	assert.Equal(t, uintptr(hdrMinDataSize), unsafe.Offsetof(h.Data))
	assert.Len(t, h.Name, unix.DM_NAME_LEN)
	assert.Len(t, h.Uuid, unix.DM_UUID_LEN)

	var s unix.DmTargetSpec
	assert.Equal(t, uintptr(40), unsafe.Sizeof(s))
	assert.Equal(t, uintptr(specSize), unsafe.Sizeof(s))
	assert.Equal(t, uintptr(specStart), unsafe.Offsetof(s.Sector_start))
	assert.Equal(t, uintptr(specLength), unsafe.Offsetof(s.Length))
	assert.Equal(t, uintptr(specNext), unsafe.Offsetof(s.Next))
	assert.Equal(t, uintptr(specType), unsafe.Offsetof(s.Target_type))
	assert.Len(t, s.Target_type, unix.DM_MAX_TYPE_NAME)

	var m unix.DmTargetMsg
	assert.Equal(t, uintptr(msgText), unsafe.Sizeof(m))
	assert.Equal(t, uintptr(msgSector), unsafe.Offsetof(m.Sector))
}

func TestEncodeRequest(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		dev     string
		flags   uint32
		payload []byte
		wantErr string
	}{
		{name: "list", size: 4096, dev: "", flags: 0},
		{name: "status", size: 1024, dev: "cryptroot", flags: unix.DM_NOFLUSH_FLAG},
		{name: "payload", size: 320, dev: "a", flags: 0, payload: []byte("12345678")},
		{name: "longest name", size: 312, dev: strings.Repeat("n", 127)},
		{name: "name too long", size: 312, dev: strings.Repeat("n", 128), wantErr: "longer than 127 bytes"},
		{name: "NUL in name", size: 312, dev: "a\x00b", wantErr: "NUL"},
		{name: "short buffer", size: 311, dev: "a", wantErr: "cannot hold"},
		{name: "payload too big", size: 319, dev: "a", payload: []byte("12345678"), wantErr: "cannot hold"},
		{name: "table flag", size: 1024, dev: "cryptroot", flags: unix.DM_STATUS_TABLE_FLAG | unix.DM_NOFLUSH_FLAG, wantErr: "DM_STATUS_TABLE_FLAG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := bytes.Repeat([]byte{0xaa}, tt.size)
			err := encodeRequest(buf, tt.dev, tt.flags, tt.payload)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			want := make([]byte, tt.size)
			ne.PutUint32(want[0:], 4)
			ne.PutUint32(want[12:], uint32(tt.size))
			ne.PutUint32(want[16:], 312)
			ne.PutUint32(want[28:], tt.flags)
			copy(want[48:], tt.dev)
			copy(want[312:], tt.payload)
			assert.Equal(t, want, buf, "encodeRequest(%q, %#x, %q)", tt.dev, tt.flags, tt.payload)
		})
	}
}

func TestEncodeTargetMsg(t *testing.T) {
	buf := bytes.Repeat([]byte{0xaa}, 400)
	req, err := encodeTargetMsg(buf, "cryptroot", 2048, "key wipe")
	require.NoError(t, err)
	require.Len(t, req, 312+8+len("key wipe")+1)
	assert.Equal(t, targetMsgSize("key wipe"), len(req))
	assert.Equal(t, uint32(4), ne.Uint32(req[0:]), "version 4.0.0")
	assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 0}, req[4:12])
	assert.Equal(t, uint32(len(req)), ne.Uint32(req[12:]), "data_size: exactly the request")
	assert.Equal(t, uint32(312), ne.Uint32(req[16:]), "data_start")
	assert.Equal(t, uint32(unix.DM_SECURE_DATA_FLAG), ne.Uint32(req[28:]), "flags")
	assert.Equal(t, "cryptroot\x00", string(req[48:58]))
	assert.Equal(t, uint64(2048), ne.Uint64(req[312:]), "struct dm_target_msg sector")
	assert.Equal(t, "key wipe\x00", string(req[320:]))

	_, err = encodeTargetMsg(make([]byte, 328), "a", 0, "key wipe")
	assert.ErrorContains(t, err, "cannot hold")
	_, err = encodeTargetMsg(buf, "a", 0, "key\x00wipe")
	assert.ErrorContains(t, err, "NUL")
	_, err = encodeTargetMsg(buf, "a", 0, "")
	assert.Error(t, err)
}

// answer builds an answered request: a header with data at 312.
func answer(size int, flags, count uint32, name, uuid string, data []byte) []byte {
	buf := make([]byte, size)
	ne.PutUint32(buf[0:], 4)
	ne.PutUint32(buf[12:], uint32(312+len(data)))
	ne.PutUint32(buf[16:], 312)
	ne.PutUint32(buf[20:], count)
	ne.PutUint32(buf[28:], flags)
	copy(buf[48:], name)
	copy(buf[176:], uuid)
	copy(buf[312:], data)
	return buf
}

func TestDecodeReply(t *testing.T) {
	withSize := func(buf []byte, start, size uint32) []byte {
		ne.PutUint32(buf[16:], start)
		ne.PutUint32(buf[12:], size)
		return buf
	}
	tests := []struct {
		name    string
		buf     []byte
		want    reply
		wantErr bool
	}{
		{
			name: "data",
			buf:  answer(1024, unix.DM_ACTIVE_PRESENT_FLAG, 2, "cryptroot", "CRYPT-LUKS2-abc-cryptroot", []byte("answer")),
			want: reply{flags: unix.DM_ACTIVE_PRESENT_FLAG, targetCount: 2, name: "cryptroot", uuid: "CRYPT-LUKS2-abc-cryptroot", data: []byte("answer")},
		},
		{
			name: "no data: data_size is offsetof(data)",
			buf:  withSize(answer(312, unix.DM_SUSPEND_FLAG, 0, "a", "", nil), 312, 305),
			want: reply{flags: unix.DM_SUSPEND_FLAG, name: "a"},
		},
		{
			name: "longest name and uuid, unterminated",
			buf:  answer(312, 0, 0, strings.Repeat("n", 128), strings.Repeat("u", 129), nil),
			want: reply{name: strings.Repeat("n", 128), uuid: strings.Repeat("u", 129)},
		},
		{name: "short", buf: make([]byte, 311), wantErr: true},
		{name: "data_size past the buffer", buf: withSize(answer(400, 0, 0, "a", "", nil), 312, 401), wantErr: true},
		{name: "data_start inside the header", buf: withSize(answer(400, 0, 0, "a", "", nil), 8, 400), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeReply(tt.buf)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrMalformed)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// nameEntry is one device in a DM_LIST_DEVICES answer.
type nameEntry struct {
	dev        uint64
	name, uuid string
}

// kernelNameList encodes a DM_LIST_DEVICES answer's data as list_devices
// does (drivers/md/dm-ioctl.c, Linux 5.14+): each entry is dev, next, the
// name, aligned to 8; event_nr and flags, aligned; with DM_UUID_FLAG the
// uuid, aligned. next is relative to the entry, 0 in the last.
func kernelNameList(entries []nameEntry, uuidFlag bool) []byte {
	align := func(b []byte) []byte {
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
		return b
	}
	var out []byte
	old := -1
	for i, e := range entries {
		nl := len(out)
		if old >= 0 {
			ne.PutUint32(out[old+8:], uint32(nl-old))
		}
		out = ne.AppendUint64(out, e.dev)
		out = ne.AppendUint32(out, 0)
		out = align(append(append(out, e.name...), 0))
		out = ne.AppendUint32(out, uint32(i)) // event_nr
		var flags uint32
		if uuidFlag {
			flags = unix.DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID
			if e.uuid != "" {
				flags = unix.DM_NAME_LIST_FLAG_HAS_UUID
			}
		}
		out = ne.AppendUint32(out, flags)
		if flags == unix.DM_NAME_LIST_FLAG_HAS_UUID {
			out = align(append(append(out, e.uuid...), 0))
		}
		old = nl
	}
	return out
}

func names(ns ...string) []nameEntry {
	var es []nameEntry
	for i, n := range ns {
		es = append(es, nameEntry{dev: uint64(253<<8 | i), name: n, uuid: "CRYPT-LUKS2-" + n})
	}
	return es
}

func TestParseNameList(t *testing.T) {
	three := kernelNameList(names("cryptroot", "vg-root", strings.Repeat("x", 127)), false)
	badNext := func(next uint32) []byte {
		b := kernelNameList(names("a", "b"), false)
		ne.PutUint32(b[8:], next)
		return b
	}
	tests := []struct {
		name    string
		data    []byte
		want    []string
		wantErr bool
	}{
		{name: "no data", data: nil, want: nil},
		{name: "dev 0: no devices", data: make([]byte, 16), want: nil},
		{name: "one", data: kernelNameList(names("cryptroot"), false), want: []string{"cryptroot"}},
		{name: "three", data: three, want: []string{"cryptroot", "vg-root", strings.Repeat("x", 127)}},
		{name: "with uuids", data: kernelNameList(names("cryptroot", "vg-root"), true), want: []string{"cryptroot", "vg-root"}},
		{
			name: "some without uuid",
			data: kernelNameList([]nameEntry{{dev: 1, name: "a"}, {dev: 2, name: "b", uuid: "CRYPT-PLAIN-b"}}, true),
			want: []string{"a", "b"},
		},
		{
			// Before event_nr was appended: name, padded to 8.
			name: "old kernel layout",
			data: append(append(ne.AppendUint32(ne.AppendUint64(nil, 1), 16), "a\x00\x00\x00"...),
				append(ne.AppendUint32(ne.AppendUint64(nil, 2), 0), "b\x00"...)...),
			want: []string{"a", "b"},
		},
		{name: "truncated entry", data: three[:10], wantErr: true},
		{name: "data cut inside the last name", data: three[:len(three)-130], wantErr: true},
		{name: "next past the end", data: badNext(4096), wantErr: true},
		{name: "next not aligned", data: badNext(20), wantErr: true},
		{name: "next inside its own header", data: badNext(8), wantErr: true},
		{name: "unterminated name", data: []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'x'}, wantErr: true},
		{name: "empty name", data: append(ne.AppendUint32(ne.AppendUint64(nil, 1), 0), 0, 0, 0, 0), wantErr: true},
		{name: "name of 128 bytes", data: kernelNameList(names(strings.Repeat("x", 128)), false), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNameList(tt.data)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrMalformed, "parseNameList(%q) = %q", tt.data, got)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "parseNameList(%q)", tt.data)
		})
	}
}

// kernelTargetSpecs encodes a DM_TABLE_STATUS answer's data as
// retrieve_status does: each spec, its status string and NUL, padding to
// 8; next is the offset of the following spec from the start of the data,
// set for the last spec too; data_size ends after the last NUL.
func kernelTargetSpecs(ts []Target, status []string) []byte {
	var out []byte
	used := 0
	for i, tg := range ts {
		spec := make([]byte, specSize)
		ne.PutUint64(spec[specStart:], tg.Start)
		ne.PutUint64(spec[specLength:], tg.Length)
		copy(spec[specType:], tg.Type)
		at := len(out)
		out = append(out, spec...)
		if i < len(status) {
			out = append(out, status[i]...)
		}
		out = append(out, 0)
		used = len(out)
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
		ne.PutUint32(out[at+specNext:], uint32(len(out)))
	}
	return out[:used]
}

func TestParseTargetSpecs(t *testing.T) {
	two := []Target{{Type: "linear", Start: 0, Length: 2048}, {Type: "crypt", Start: 2048, Length: 1 << 40}}
	twoData := kernelTargetSpecs(two, []string{"", ""})
	withNext := func(i int, next uint32) []byte {
		b := bytes.Clone(twoData)
		ne.PutUint32(b[i+specNext:], next)
		return b
	}
	tests := []struct {
		name    string
		data    []byte
		count   uint32
		want    []Target
		wantErr bool
	}{
		{name: "none", data: nil, count: 0, want: []Target{}},
		{name: "two", data: twoData, count: 2, want: two},
		{
			name:  "status strings of every length",
			data:  kernelTargetSpecs([]Target{{"crypt", 0, 8}, {"thin-pool", 8, 8}, {"raid", 16, 8}, {"crypt", 24, 8}}, []string{"", "1 2/3 4/5 - rw discard_passdown", "raid1 2 AA 8/8 idle 0 0 -", "1234567"}),
			count: 4,
			want:  []Target{{"crypt", 0, 8}, {"thin-pool", 8, 8}, {"raid", 16, 8}, {"crypt", 24, 8}},
		},
		{
			name: "type of 16 bytes, unterminated", data: kernelTargetSpecs([]Target{{strings.Repeat("t", 16), 0, 1}}, nil), count: 1,
			want: []Target{{strings.Repeat("t", 16), 0, 1}},
		},
		{name: "fewer specs than target_count", data: twoData, count: 3, wantErr: true},
		{name: "count far beyond the data", data: twoData, count: 1 << 31, wantErr: true},
		{name: "data cut inside a spec", data: twoData[:60], count: 2, wantErr: true},
		{name: "next back to itself", data: withNext(0, 0), count: 2, wantErr: true},
		{name: "next into its own spec", data: withNext(0, 40), count: 2, wantErr: true},
		{name: "next not aligned", data: withNext(0, 44), count: 2, wantErr: true},
		{name: "next past the end", data: withNext(0, 1<<32-8), count: 2, wantErr: true},
		{name: "last next is not followed", data: withNext(48, 0), count: 2, want: two},
		{name: "empty type", data: kernelTargetSpecs([]Target{{"", 0, 1}}, nil), count: 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTargetSpecs(tt.data, tt.count)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrMalformed, "parseTargetSpecs(%q, %d) = %v", tt.data, tt.count, got)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "parseTargetSpecs(%q, %d)", tt.data, tt.count)
		})
	}
}

// parseNameList → kernelNameList → parseNameList gives the same names.
func FuzzParseNameList(f *testing.F) {
	f.Add(kernelNameList(names("cryptroot", "vg-root"), false))
	f.Add(kernelNameList(names("cryptroot", "vg-root"), true))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseNameList(data)
		if err != nil {
			if got != nil {
				t.Fatalf("parseNameList(%q) = %q with error %v", data, got, err)
			}
			return
		}
		var es []nameEntry
		for _, n := range got {
			if n == "" || len(n) >= unix.DM_NAME_LEN || strings.IndexByte(n, 0) >= 0 {
				t.Fatalf("parseNameList(%q): name %q", data, n)
			}
			es = append(es, nameEntry{dev: 1, name: n})
		}
		again, err := parseNameList(kernelNameList(es, true))
		require.NoError(t, err)
		assert.Equal(t, got, again)
	})
}

// parseTargetSpecs → kernelTargetSpecs → parseTargetSpecs gives the same
// targets.
func FuzzParseTargetSpecs(f *testing.F) {
	f.Add(kernelTargetSpecs([]Target{{"linear", 0, 8}, {"crypt", 8, 8}}, []string{"", "x"}), uint32(2))
	f.Fuzz(func(t *testing.T, data []byte, count uint32) {
		got, err := parseTargetSpecs(data, count)
		if err != nil {
			if got != nil {
				t.Fatalf("parseTargetSpecs(%q, %d) = %v with error %v", data, count, got, err)
			}
			return
		}
		if uint32(len(got)) != count {
			t.Fatalf("parseTargetSpecs(%q, %d) = %d targets", data, count, len(got))
		}
		again, err := parseTargetSpecs(kernelTargetSpecs(got, nil), count)
		require.NoError(t, err)
		assert.Equal(t, got, again)
	})
}

package uevent

import (
	"bytes"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// msg builds a payload the way the kernel does: header, then each
// variable, each NUL-terminated.
func msg(header string, vars ...string) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteByte(0)
	for _, v := range vars {
		b.WriteString(v)
		b.WriteByte(0)
	}
	return b.Bytes()
}

// marshal is Parse's inverse: the header, then ACTION, DEVPATH and
// SUBSYSTEM when present, then the other variables sorted by name.
func marshal(ev Event) []byte {
	var vars []string
	first := []string{"ACTION", "DEVPATH", "SUBSYSTEM"}
	for _, k := range first {
		if v, ok := ev.Env[k]; ok {
			vars = append(vars, k+"="+v)
		}
	}
	var rest []string
	for k, v := range ev.Env {
		if k != "ACTION" && k != "DEVPATH" && k != "SUBSYSTEM" {
			rest = append(rest, k+"="+v)
		}
	}
	sort.Strings(rest)
	return msg(ev.Action+"@"+ev.DevPath, append(vars, rest...)...)
}

const usbPart = "/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sdb/sdb1"

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Event
		wantErr string
	}{
		{
			name: "partition remove",
			in: msg("remove@"+usbPart, "ACTION=remove", "DEVPATH="+usbPart, "SUBSYSTEM=block",
				"MAJOR=8", "MINOR=17", "DEVNAME=sdb1", "DEVTYPE=partition", "DISKSEQ=9", "PARTN=1", "SEQNUM=4711"),
			want: Event{
				Action: "remove", DevPath: usbPart, Subsystem: "block", DevType: "partition", DevName: "sdb1",
				Env: map[string]string{
					"ACTION": "remove", "DEVPATH": usbPart, "SUBSYSTEM": "block", "MAJOR": "8", "MINOR": "17",
					"DEVNAME": "sdb1", "DEVTYPE": "partition", "DISKSEQ": "9", "PARTN": "1", "SEQNUM": "4711",
				},
			},
		},
		{
			name: "input add",
			in: msg("add@/devices/platform/i8042/serio0/input/input3/event2", "ACTION=add",
				"DEVPATH=/devices/platform/i8042/serio0/input/input3/event2", "SUBSYSTEM=input",
				"MAJOR=13", "MINOR=66", "DEVNAME=input/event2", "SEQNUM=1500"),
			want: Event{
				Action: "add", DevPath: "/devices/platform/i8042/serio0/input/input3/event2", Subsystem: "input", DevName: "input/event2",
				Env: map[string]string{
					"ACTION": "add", "DEVPATH": "/devices/platform/i8042/serio0/input/input3/event2", "SUBSYSTEM": "input",
					"MAJOR": "13", "MINOR": "66", "DEVNAME": "input/event2", "SEQNUM": "1500",
				},
			},
		},
		{
			name: "no final NUL, empty records and an empty value",
			in:   []byte("change@/devices/virtual/block/loop0\x00\x00ACTION=change\x00\x00DISK_MEDIA_CHANGE=1\x00EMPTY="),
			want: Event{
				Action: "change", DevPath: "/devices/virtual/block/loop0",
				Env: map[string]string{"ACTION": "change", "DISK_MEDIA_CHANGE": "1", "EMPTY": ""},
			},
		},
		{
			name: "header only",
			in:   []byte("online@/devices/system/cpu/cpu1"),
			want: Event{Action: "online", DevPath: "/devices/system/cpu/cpu1", Env: map[string]string{}},
		},
		{
			name: "value containing '=' and '@'",
			in:   msg("bind@/devices/x", "MODALIAS=usb:v1234p5678d0100dc00dsc00dp00ic08isc06ip50in00", "X=a=b@c"),
			want: Event{
				Action: "bind", DevPath: "/devices/x",
				Env: map[string]string{"MODALIAS": "usb:v1234p5678d0100dc00dsc00dp00ic08isc06ip50in00", "X": "a=b@c"},
			},
		},
		{
			name: "repeated variable: last wins",
			in:   msg("add@/devices/x", "K=1", "K=2"),
			want: Event{Action: "add", DevPath: "/devices/x", Env: map[string]string{"K": "2"}},
		},
		{
			name: "synthetic",
			in:   msg("remove@/devices/x", "ACTION=remove", "SYNTH_UUID=0"),
			want: Event{Action: "remove", DevPath: "/devices/x", Env: map[string]string{"ACTION": "remove", "SYNTH_UUID": "0"}},
		},
		{name: "empty", in: nil, wantErr: "empty message"},
		{name: "too long", in: msg("add@/devices/" + strings.Repeat("x", MaxPayload)), wantErr: "more than 16384"},
		{name: "udev binary", in: []byte("libudev\x00\xfe\xed\xca\xfe\x28\x00\x00\x00"), wantErr: "udev monitor message"},
		{name: "no at", in: msg("add/devices/x"), wantErr: "has no '@'"},
		{name: "empty action", in: msg("@/devices/x"), wantErr: "not a lowercase word"},
		{name: "uppercase action", in: msg("ADD@/devices/x"), wantErr: "not a lowercase word"},
		{name: "relative devpath", in: msg("add@devices/x"), wantErr: "does not start with '/'"},
		{name: "bare slash devpath", in: msg("add@/"), wantErr: "does not start with '/'"},
		{name: "empty devpath", in: msg("add@"), wantErr: "does not start with '/'"},
		{name: "variable without =", in: msg("add@/devices/x", "ACTION=add", "GARBAGE"), wantErr: `variable "GARBAGE" has no '='`},
		{name: "empty name", in: msg("add@/devices/x", "=v"), wantErr: "is not [A-Za-z0-9_]+"},
		{name: "bad name", in: msg("add@/devices/x", "A-B=v"), wantErr: "is not [A-Za-z0-9_]+"},
		{name: "ACTION disagrees", in: msg("add@/devices/x", "ACTION=remove"), wantErr: `header action "add" but ACTION="remove"`},
		{name: "DEVPATH disagrees", in: msg("add@/devices/x", "DEVPATH=/devices/y"), wantErr: "but DEVPATH="},
		{name: "too many variables", in: msg("add@/devices/x", manyVars(MaxVars+1)...), wantErr: "more than 256 variables"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr, "Parse(%q)", tt.in)
				assert.ErrorIs(t, err, ErrMalformed)
				assert.Contains(t, err.Error(), "parse uevent: ")
				return
			}
			require.NoError(t, err, "Parse(%q)", tt.in)
			assert.Equal(t, tt.want, got, "Parse(%q)", tt.in)
		})
	}
}

func manyVars(n int) []string {
	var v []string
	for i := range n {
		v = append(v, "V"+strings.Repeat("X", i%7)+string(rune('A'+i%26))+string(rune('A'+i/26%26))+"=1")
	}
	return v
}

func TestParseUdevIsDistinct(t *testing.T) {
	_, err := Parse([]byte("libudev\x00\xfe\xed\xca\xfe"))
	require.ErrorIs(t, err, ErrUdevFormat)
	require.ErrorIs(t, err, ErrMalformed)
	_, err = Parse(msg("add@/devices/x"))
	require.NoError(t, err)
}

func TestParseMaxVarsExactly(t *testing.T) {
	ev, err := Parse(msg("add@/devices/x", manyVars(MaxVars)...))
	require.NoError(t, err)
	assert.Len(t, ev.Env, MaxVars)
}

func TestEventAccessors(t *testing.T) {
	ev, err := Parse(msg("change@/devices/x", "DISK_MEDIA_CHANGE=1"))
	require.NoError(t, err)
	assert.Equal(t, "1", ev.Get("DISK_MEDIA_CHANGE"))
	assert.Empty(t, ev.Get("NOPE"))
	assert.False(t, ev.Synthetic())
	assert.Empty(t, Event{}.Get("X"), "Get on a zero Event")
}

func TestMarshalRoundTrip(t *testing.T) {
	in := msg("remove@"+usbPart, "ACTION=remove", "DEVPATH="+usbPart, "SUBSYSTEM=block", "DEVNAME=sdb1", "SEQNUM=1")
	ev, err := Parse(in)
	require.NoError(t, err)
	assert.Equal(t, in, marshal(ev), "the kernel's order is ACTION, DEVPATH, SUBSYSTEM, then the rest")
}

// fakeRecv plays back messages; after the last one it returns errDone.
type fakeMsg struct {
	b   []byte
	pid uint32
	err error
	n   int // reported length when non-zero (truncation)
}

var errDone = errors.New("done")

func fakeRecv(msgs []fakeMsg) recvFunc {
	return func(buf []byte) (int, uint32, error) {
		if len(msgs) == 0 {
			return 0, 0, errDone
		}
		m := msgs[0]
		msgs = msgs[1:]
		if m.err != nil {
			return 0, 0, m.err
		}
		n := copy(buf, m.b)
		if m.n != 0 {
			n = m.n
		}
		return n, m.pid, nil
	}
}

func TestNext(t *testing.T) {
	good := msg("add@/devices/x", "ACTION=add", "SUBSYSTEM=input")
	var logs []string
	logf := func(f string, a ...any) { logs = append(logs, f) }
	recv := fakeRecv([]fakeMsg{
		{b: msg("remove@/devices/forged", "ACTION=remove"), pid: 4242},
		{b: good, n: 100000},
		{b: []byte("libudev\x00\xfe\xed\xca\xfe")},
		{b: []byte("nonsense")},
		{b: good},
		{err: errOverrun(errors.New("ENOBUFS"))},
		{b: good},
	})
	buf := make([]byte, 4096)

	ev, err := next(buf, recv, logf)
	require.NoError(t, err)
	assert.Equal(t, "/devices/x", ev.DevPath)
	assert.Len(t, logs, 4, "forged, truncated, udev and malformed messages are dropped and logged: %q", logs)

	_, err = next(buf, recv, logf)
	require.ErrorIs(t, err, ErrOverrun)

	ev, err = next(buf, recv, logf)
	require.NoError(t, err, "the listener is usable after an overrun")
	assert.Equal(t, "add", ev.Action)

	_, err = next(buf, recv, logf)
	require.ErrorIs(t, err, errDone)
}

func TestLogfOrNop(t *testing.T) {
	logfOrNop(nil)("discarded %d", 1)
}

func FuzzParse(f *testing.F) {
	f.Add(msg("add@/devices/x", "ACTION=add", "SUBSYSTEM=input", "DEVNAME=input/event3"))
	f.Add(msg("remove@"+usbPart, "ACTION=remove", "DEVPATH="+usbPart, "SUBSYSTEM=block", "DEVTYPE=partition", "DEVNAME=sdb1"))
	f.Add([]byte("libudev\x00\xfe\xed\xca\xfe"))
	f.Add([]byte("change@/devices/x\x00\x00DISK_MEDIA_CHANGE=1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) = %v, which does not wrap ErrMalformed", b, err)
			}
			return
		}
		if ev.Action == "" || !strings.HasPrefix(ev.DevPath, "/") || ev.Env == nil {
			t.Fatalf("Parse(%q) = %+v: missing action, devpath or env", b, ev)
		}
		if len(ev.Env) > MaxVars {
			t.Fatalf("Parse(%q): %d variables", b, len(ev.Env))
		}
		again, err := Parse(marshal(ev))
		if err != nil {
			t.Fatalf("Parse(marshal(Parse(%q))) = %v", b, err)
		}
		assert.Equal(t, ev, again, "round trip of %q", b)
	})
}

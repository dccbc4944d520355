package hotkey

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeyTableMatchesHeader checks every entry against the kernel's UAPI
// header, where the machine has one (Debian: linux-libc-dev).
func TestKeyTableMatchesHeader(t *testing.T) {
	h, err := os.ReadFile("/usr/include/linux/input-event-codes.h")
	if err != nil {
		t.Skipf("no UAPI header to compare with: %v", err)
	}
	defs := map[string]uint64{}
	for _, m := range regexp.MustCompile(`(?m)^#define\s+(KEY_\w+)\s+(0x[0-9a-fA-F]+|\d+)\b`).FindAllSubmatch(h, -1) {
		v, err := strconv.ParseUint(string(m[2]), 0, 16)
		require.NoError(t, err)
		defs[string(m[1])] = v
	}
	for _, e := range keyTable() {
		v, ok := defs[e.name]
		if assert.True(t, ok, "%s is not in input-event-codes.h", e.name) {
			assert.Equal(t, v, uint64(e.code), "%s", e.name)
		}
	}
	for name, c := range map[string]Key{
		"KEY_BACKSPACE": keyBackspace, "KEY_LEFTCTRL": keyLeftCtrl, "KEY_LEFTALT": keyLeftAlt, "KEY_KPDOT": keyKPDot,
		"KEY_RIGHTCTRL": keyRightCtrl, "KEY_SYSRQ": keySysRq, "KEY_RIGHTALT": keyRightAlt, "KEY_DELETE": keyDelete,
		"KEY_LEFTSHIFT": keyLeftShift, "KEY_RIGHTSHIFT": keyRightShift, "KEY_LEFTMETA": keyLeftMeta, "KEY_RIGHTMETA": keyRightMeta,
	} {
		assert.Equal(t, defs[name], uint64(c), name)
	}
	assert.Equal(t, defs["KEY_MAX"]+1, uint64(keyCnt))
}

func TestKeyTable(t *testing.T) {
	seenCode, seenName := map[Key]bool{}, map[string]bool{}
	for _, e := range keyTable() {
		assert.False(t, seenCode[e.code], "code %d twice", e.code)
		assert.False(t, seenName[e.name], "name %s twice", e.name)
		seenCode[e.code], seenName[e.name] = true, true
		k, ok := KeyByName(e.name)
		assert.True(t, ok)
		assert.Equal(t, e.code, k)
		assert.Equal(t, e.name, e.code.String())
	}
	for _, want := range []string{"KEY_A", "KEY_Z", "KEY_0", "KEY_9", "KEY_F1", "KEY_F24", "KEY_PAUSE", "KEY_SCROLLLOCK", "KEY_SYSRQ", "KEY_LEFTMETA", "KEY_RIGHTCTRL"} {
		assert.True(t, seenName[want], want)
	}
}

func TestKeyByName(t *testing.T) {
	tests := []struct {
		in     string
		want   Key
		wantOK bool
	}{
		{"KEY_LEFTCTRL", 29, true},
		{"leftctrl", 29, true},
		{" key_f12 ", 88, true},
		{"KEY_1", 2, true},
		{"1", 2, true},
		{"KEY_POWER", 0, false}, // a real key, but not one for a chord
		{"", 0, false},
		{"KEY_", 0, false},
		{"CTRL", 0, false},
	}
	for _, tt := range tests {
		got, ok := KeyByName(tt.in)
		assert.Equal(t, tt.wantOK, ok, "KeyByName(%q)", tt.in)
		assert.Equal(t, tt.want, got, "KeyByName(%q)", tt.in)
	}
	assert.Equal(t, "KEY_0x74", Key(116).String())
}

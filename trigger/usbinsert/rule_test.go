package usbinsert

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRule(t *testing.T) {
	tests := []struct {
		in   string
		want Rule
		str  string
	}{
		{"046d:c52b", Rule{Vendor: 0x046d, Product: 0xc52b}, "046d:c52b"},
		{"46F4:1", Rule{Vendor: 0x46f4, Product: 1}, "46f4:0001"},
		{"0781:5583:4C530001", Rule{Vendor: 0x0781, Product: 0x5583, Serial: "4C530001"}, ""},
		{"0781:5583:4C530001@1-4", Rule{Vendor: 0x0781, Product: 0x5583, Serial: "4C530001", Port: "1-4"}, ""},
		{"0781:5583@3-1.2.4", Rule{Vendor: 0x0781, Product: 0x5583, Port: "3-1.2.4"}, ""},
		{"46f4:0001:1-0000:00:04.0-1", Rule{Vendor: 0x46f4, Product: 1, Serial: "1-0000:00:04.0-1"}, ""},
		{"1234:5678:a%20b%40c%25", Rule{Vendor: 0x1234, Product: 0x5678, Serial: "a b@c%"}, ""},
		{"1234:5678:%e2%82%ac", Rule{Vendor: 0x1234, Product: 0x5678, Serial: "€"}, "1234:5678:%E2%82%AC"},
	}
	for _, tt := range tests {
		r, err := ParseRule(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, r, tt.in)
		str := tt.str
		if str == "" {
			str = tt.in
		}
		assert.Equal(t, str, r.String(), tt.in)
	}
}

func TestParseRuleErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "no ':'"},
		{"046d", "no ':'"},
		{"046d:", "product"},
		{"12345:1", "vendor"},
		{"xyz:1", "vendor"},
		{"+1:1", "vendor"},
		{"1:0x1", "product"},
		{"1:2:", "empty serial"},
		{"1:2:a b", "serial"},
		{"1:2:a%2", "two hex digits"},
		{"1:2:a%zz", "two hex digits"},
		{"1:2:é", "serial"},
		{"1:2@", "port"},
		{"1:2@usb1", "port"},
		{"1:2@1-04", "port"},
		{"1:2@1-4.", "port"},
		{"1:2@1-4@1-5", "port"},
		{"1:2:" + strings.Repeat("a", MaxSerial+1), "serial longer"},
	}
	for _, tt := range tests {
		_, err := ParseRule(tt.in)
		require.Error(t, err, tt.in)
		assert.ErrorIs(t, err, ErrRule)
		assert.ErrorContains(t, err, tt.want, tt.in)
	}
}

func TestParseRules(t *testing.T) {
	rs, err := ParseRules("  046d:c52b\t0781:5583:X@1-4 ")
	require.NoError(t, err)
	assert.Equal(t, []Rule{{Vendor: 0x046d, Product: 0xc52b}, {Vendor: 0x0781, Product: 0x5583, Serial: "X", Port: "1-4"}}, rs)
	_, err = ParseRules(" ")
	assert.ErrorIs(t, err, ErrRule)
	_, err = ParseRules("046d:c52b bogus")
	assert.ErrorContains(t, err, "bogus")
}

func TestRuleAllows(t *testing.T) {
	stick := Device{Port: "1-4", Vendor: 0x0781, Product: 0x5583, Serial: "S1", SerialKnown: true}
	noSerial := Device{Port: "1-2", Vendor: 0x046d, Product: 0xc077, SerialKnown: true}
	unread := Device{Port: "1-4", Vendor: 0x0781, Product: 0x5583}
	for _, tt := range []struct {
		rule string
		dev  Device
		want bool
	}{
		{"0781:5583", stick, true},
		{"0781:5583:S1", stick, true},
		{"0781:5583:S2", stick, false},
		{"0781:5583:S1@1-4", stick, true},
		{"0781:5583:S1@1-5", stick, false},
		{"0781:5584", stick, false},
		{"0782:5583", stick, false},
		{"046d:c077", noSerial, true},
		{"046d:c077@1-2", noSerial, true},
		{"046d:c077@1-3", noSerial, false},
		{"046d:c077:X", noSerial, false},
		{"0781:5583:S1", unread, false},
		{"0781:5583", unread, true},
	} {
		r, err := ParseRule(tt.rule)
		require.NoError(t, err)
		assert.Equal(t, tt.want, r.Allows(tt.dev), "%s allows %v", tt.rule, tt.dev)
	}
}

func TestValidPort(t *testing.T) {
	for _, p := range []string{"1-1", "12-3.4.5", "1-1.2.3.4.5.6.7"} {
		assert.True(t, ValidPort(p), p)
	}
	for _, p := range []string{"", "1", "usb1", "1-", "-1", "0-1", "1-0", "1-1..2", "1-1:1.0", "1-1.a", strings.Repeat("1.", 30) + "1"} {
		assert.False(t, ValidPort(p), p)
	}
}

// FuzzParseRule checks that an entry that parses is written back in a
// form that parses to the same rule, and that errors never panic.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"046d:c52b", "0781:5583:4C530001@1-4", "1:2:%41%40@3-1.2", "1:2:a%2", "46f4:0001:1-0000:00:04.0-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			return
		}
		back, err := ParseRule(r.String())
		if err != nil {
			t.Fatalf("%q → %q does not parse: %v", s, r.String(), err)
		}
		if back != r {
			t.Fatalf("%q → %q → %+v, want %+v", s, r.String(), back, r)
		}
		if strings.IndexFunc(r.String(), func(c rune) bool { return c <= ' ' || c >= 0x7f }) >= 0 {
			t.Fatalf("%q written with a space or control or non-ASCII: %q", s, r.String())
		}
		if r.Port != "" && !ValidPort(r.Port) {
			t.Fatalf("%q: accepted port %q", s, r.Port)
		}
	})
}

func TestReadConf(t *testing.T) {
	c := ReadConf([]byte("# usb_insert = on\nhotkey = off\n usb_insert = on \nusb_allow = 046d:c52b\nusb_allow = nonsense\nusb_allow\n"))
	assert.Equal(t, "on", c.Insert)
	assert.Equal(t, 3, c.InsertLine)
	assert.Len(t, c.Rules, 1)
	assert.Equal(t, 1, c.Bad)
	assert.Equal(t, Conf{}, ReadConf(nil))
}

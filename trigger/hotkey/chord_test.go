package hotkey

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseChord(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Chord
		wantErr string
	}{
		{name: "default", in: DefaultChord, want: Chord{Keys: []Key{14, 29, 97}, Times: 1}},
		{name: "sorted, any case, no prefix, spaces", in: " rightctrl + KEY_f12+leftalt ", want: Chord{Keys: []Key{56, 88, 97}, Times: 1}},
		{name: "two modifiers", in: "KEY_LEFTCTRL+KEY_RIGHTCTRL", want: Chord{Keys: []Key{29, 97}, Times: 1}},
		{name: "single key three times", in: "KEY_PAUSE*3/2s", want: Chord{Keys: []Key{119}, Times: 3, Within: 2 * time.Second}},
		{name: "chord twice", in: "leftctrl+rightctrl*2/1500ms", want: Chord{Keys: []Key{29, 97}, Times: 2, Within: 1500 * time.Millisecond}},
		{name: "spaces around count", in: "KEY_F24 * 4 / 3s", want: Chord{Keys: []Key{194}, Times: 4, Within: 3 * time.Second}},
		{name: "six keys", in: "A+B+C+D+E+F", want: Chord{Keys: []Key{18, 30, 32, 33, 46, 48}, Times: 1}},

		{name: "empty", in: "", wantErr: "empty key name"},
		{name: "empty key", in: "KEY_A++KEY_B", wantErr: "empty key name"},
		{name: "trailing plus", in: "KEY_A+", wantErr: "empty key name"},
		{name: "unknown key", in: "KEY_LEFTCTRL+KEY_BANANA", wantErr: `unknown key "KEY_BANANA"`},
		{name: "duplicate", in: "KEY_A+a", wantErr: "KEY_A twice"},
		{name: "seven keys", in: "A+B+C+D+E+F+G", wantErr: "more than 6 keys"},
		{name: "single key", in: "KEY_PAUSE", wantErr: "alone fires on one accidental press"},
		{name: "count without window", in: "KEY_PAUSE*3", wantErr: "want *N/T"},
		{name: "count one", in: "KEY_A+KEY_B*1/2s", wantErr: "count 1"},
		{name: "count too big", in: "KEY_PAUSE*11/2s", wantErr: "count 11"},
		{name: "count not a number", in: "KEY_PAUSE*x/2s", wantErr: `count "x"`},
		{name: "bad window", in: "KEY_PAUSE*3/two", wantErr: "invalid duration"},
		{name: "window too short", in: "KEY_PAUSE*3/50ms", wantErr: "window 50ms"},
		{name: "window too long", in: "KEY_PAUSE*3/1m", wantErr: "window 1m0s"},
		{name: "two stars", in: "KEY_PAUSE*3/2s*2", wantErr: "unknown unit"},
		{name: "magic sysrq", in: "KEY_LEFTALT+KEY_SYSRQ+KEY_B", wantErr: "magic SysRq"},
		{name: "magic sysrq right alt", in: "KEY_RIGHTALT+KEY_SYSRQ*2/1s", wantErr: "magic SysRq"},
		{name: "ctrl alt del", in: "KEY_RIGHTCTRL+KEY_LEFTALT+KEY_DELETE", wantErr: "Ctrl+Alt+Del"},
		{name: "ctrl alt keypad del", in: "KEY_LEFTCTRL+KEY_RIGHTALT+KEY_KPDOT", wantErr: "Ctrl+Alt+Del"},
		{name: "too long", in: strings.Repeat("A+", 200), wantErr: "longer than 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChord(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr, "ParseChord(%q)", tt.in)
				assert.Contains(t, err.Error(), "parse chord")
				return
			}
			require.NoError(t, err, "ParseChord(%q)", tt.in)
			assert.Equal(t, tt.want, got, "ParseChord(%q)", tt.in)
			again, err := ParseChord(got.String())
			require.NoError(t, err, "ParseChord(%q)", got.String())
			assert.Equal(t, got, again, "round trip through %q", got.String())
		})
	}
}

func TestChordString(t *testing.T) {
	c, err := ParseChord("rightctrl+leftctrl+backspace")
	require.NoError(t, err)
	assert.Equal(t, DefaultChord, c.String())
	c, err = ParseChord("KEY_PAUSE*3/1.5s")
	require.NoError(t, err)
	assert.Equal(t, "KEY_PAUSE*3/1.5s", c.String())
}

func TestChordCheck(t *testing.T) {
	// Chords built by hand go through the same checks in NewMatcher.
	tests := []struct {
		name    string
		c       Chord
		wantErr string
	}{
		{name: "no keys", c: Chord{}, wantErr: "no keys"},
		{name: "unsorted", c: Chord{Keys: []Key{97, 29}}, wantErr: "not sorted"},
		{name: "unknown code", c: Chord{Keys: []Key{29, 116}}, wantErr: "not one a chord may use"},
		{name: "window without count", c: Chord{Keys: []Key{29, 97}, Within: time.Second}, wantErr: "without a count"},
		{name: "negative count", c: Chord{Keys: []Key{29, 97}, Times: -1}, wantErr: "count -1"},
		{name: "too many", c: Chord{Keys: []Key{16, 17, 18, 19, 20, 21, 22}}, wantErr: "more than 6"},
		{name: "zero Times means once", c: Chord{Keys: []Key{29, 97}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewMatcher(tt.c, nil)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func FuzzParseChord(f *testing.F) {
	for _, s := range []string{DefaultChord, "leftctrl+rightctrl*3/2s", "KEY_PAUSE*2/500ms", "a+b+c+d+e+f", "KEY_LEFTALT+KEY_SYSRQ", "x*1/1s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseChord(s)
		if err != nil {
			return
		}
		if err := c.check(); err != nil {
			t.Fatalf("ParseChord(%q) = %v, which fails its own check: %v", s, c, err)
		}
		again, err := ParseChord(c.String())
		if err != nil {
			t.Fatalf("ParseChord(%q) = %v; reparsing %q: %v", s, c, c.String(), err)
		}
		if c.String() != again.String() || c.Times != again.Times || c.Within != again.Within {
			t.Fatalf("round trip of %q: %v != %v", s, c, again)
		}
	})
}

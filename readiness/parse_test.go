package readiness

import (
	"math/bits"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/hotkey"

	"github.com/ramwipe/ramwipe/mountinfo"
)

func TestParseCrypttab(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []crypttabEntry
		wantErr string
	}{
		{name: "empty"},
		{name: "comments and blanks", in: "# x\n\n   \n\t# y\n"},
		{name: "two fields", in: "swap /dev/sda2\n", want: []crypttabEntry{{Line: 1, Name: "swap", Device: "/dev/sda2"}}},
		{name: "options", in: "root\tUUID=1 none  luks,tpm2-device=auto,,discard \n",
			want: []crypttabEntry{{Line: 1, Name: "root", Device: "UUID=1", KeyFile: "none", Options: []string{"luks", "tpm2-device=auto", "discard"}}}},
		{name: "bad line", in: "lonely\nok /dev/x\n", want: []crypttabEntry{{Line: 2, Name: "ok", Device: "/dev/x"}}, wantErr: "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := parseCrypttab([]byte(tt.in))
			assert.Equal(t, tt.want, got, "parseCrypttab(%q)", tt.in)
			if tt.wantErr == "" {
				assert.Empty(t, errs)
			} else {
				require.NotEmpty(t, errs)
				assert.ErrorContains(t, errs[0], tt.wantErr)
			}
		})
	}
}

func TestTPM2WithoutPIN(t *testing.T) {
	tests := []struct {
		opts string
		want bool
	}{
		{"", false},
		{"luks,discard", false},
		{"tpm2-device=auto", true},
		{"tpm2-device=/dev/tpmrm0,tpm2-pcrs=7", true},
		{"tpm2-device=auto,tpm2-pin=yes", false},
		{"tpm2-device=auto,tpm2-pin=true", false},
		{"tpm2-device=auto,tpm2-pin=no", true},
		{"tpm2-device=", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tpm2WithoutPIN(splitOptions(tt.opts)), "tpm2WithoutPIN(%q)", tt.opts)
	}
}

func TestParseSleepConf(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{name: "empty", want: map[string]string{}},
		{name: "sleep section", in: "# c\n; c\n[Sleep]\nAllowSuspend = no\nHibernateMode=platform shutdown\n",
			want: map[string]string{"AllowSuspend": "no", "HibernateMode": "platform shutdown"}},
		{name: "later wins", in: "[Sleep]\nAllowSuspend=no\nAllowSuspend=yes\n", want: map[string]string{"AllowSuspend": "yes"}},
		{name: "other section", in: "AllowSuspend=no\n[Other]\nAllowSuspend=no\n", want: map[string]string{}},
		{name: "bad line", in: "[Sleep]\nnonsense\nAllowHibernation=no\n", want: map[string]string{"AllowHibernation": "no"}, wantErr: "line 2"},
		{name: "bad section", in: "[Sleep\nAllowHibernation=no\n", want: map[string]string{}, wantErr: "want [Section]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			err := parseSleepConf([]byte(tt.in), got)
			assert.Equal(t, tt.want, got, "parseSleepConf(%q)", tt.in)
			if tt.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.wantErr)
			}
		})
	}
}

func TestParseBitmap(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wordBits int
		limit    int
		want     []int
		wantErr  string
	}{
		{name: "zero", in: "0\n", wordBits: 64, limit: keyMax},
		{name: "ev of a keyboard", in: "120013\n", wordBits: 64, limit: 0x1f, want: []int{0, 1, 4, 17, 20}},
		{name: "64-bit words", in: "1 0 8000000000000001", wordBits: 64, limit: keyMax, want: []int{0, 63, 128}},
		{name: "32-bit words", in: "1 0 80000001", wordBits: 32, limit: keyMax, want: []int{0, 31, 64}},
		{name: "bits past the limit dropped", in: "ffffffff", wordBits: 32, limit: 3, want: []int{0, 1, 2, 3}},
		{name: "not hex", in: "12g4", wordBits: 64, limit: keyMax, wantErr: "want at most 64 bits in hex"},
		{name: "word too wide", in: "100000000", wordBits: 32, limit: keyMax, wantErr: "want at most 32 bits"},
		{name: "too many words", in: strings.Repeat("0 ", 65), wordBits: 64, limit: keyMax, wantErr: "more than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBitmap(tt.in, tt.wordBits, tt.limit)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr, "parseBitmap(%q)", tt.in)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "parseBitmap(%q)", tt.in)
		})
	}
}

func TestParseSwaps(t *testing.T) {
	got, err := parseSwaps([]byte("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/dm-1 partition 999420 0 -2\n/my\\040swap\\134file\\040(deleted) file 1 0 -3\n"))
	require.NoError(t, err)
	assert.Equal(t, []swapEntry{{Name: "/dev/dm-1", Type: "partition"}, {Name: `/my swap\file`, Type: "file"}}, got)
	_, err = parseSwaps([]byte("Filename Type Size Used Priority\n/dev/sda2 partition\n"))
	assert.ErrorContains(t, err, "line 2")
}

func TestParseMountinfo(t *testing.T) {
	got, err := parseMountinfo([]byte(`22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw
bad line
40 22 0:33 /@swap /my\040swap rw - btrfs /dev/mapper/root rw,subvol=/@swap
`))
	assert.ErrorContains(t, err, "line 2")
	assert.Equal(t, []mountinfo.Mount{
		{Major: 253, Minor: 0, Point: "/", FSType: "ext4", Source: "/dev/mapper/root", SuperOpts: "rw"},
		{Major: 0, Minor: 33, Point: "/my swap", FSType: "btrfs", Source: "/dev/mapper/root", SuperOpts: "rw,subvol=/@swap"},
	}, got)
	m, ok := mountOf(got, "/my swap/file")
	assert.True(t, ok)
	assert.Equal(t, "/my swap", m.Point)
	m, ok = mountOf(got, "/my swapfile")
	assert.True(t, ok)
	assert.Equal(t, "/", m.Point, "a mount point is a whole path component")
}

func TestChordSetting(t *testing.T) {
	tests := []struct {
		in       string
		want     string
		wantLine int
	}{
		{"", hotkey.DefaultChord, 0},
		{"# hotkey = KEY_PAUSE*2/1s\n", hotkey.DefaultChord, 0},
		{"group = wheel\n  hotkey=KEY_PAUSE*2/1s  \n", "KEY_PAUSE*2/1s", 2},
		{"hotkey = off\n", "off", 1},
	}
	for _, tt := range tests {
		got, line := chordSetting([]byte(tt.in))
		assert.Equal(t, tt.want, got, "chordSetting(%q)", tt.in)
		assert.Equal(t, tt.wantLine, line, "chordSetting(%q) line", tt.in)
	}
}

func TestBracketedAndCmdline(t *testing.T) {
	m, ok := bracketed("s2idle [deep]")
	assert.True(t, ok)
	assert.Equal(t, "deep", m)
	_, ok = bracketed("s2idle deep")
	assert.False(t, ok)
	v, ok := cmdlineParam(`root=x resume="UUID=1" resume=UUID=2 nohibernate`, "resume")
	assert.True(t, ok)
	assert.Equal(t, "UUID=2", v)
	_, ok = cmdlineParam("root=x", "resume")
	assert.False(t, ok)
}

func FuzzParseCrypttab(f *testing.F) {
	f.Add("root UUID=1 none tpm2-device=auto,tpm2-pin=yes\n# c\nswap /dev/sda2 /dev/urandom swap\n")
	f.Fuzz(func(t *testing.T, s string) {
		entries, _ := parseCrypttab([]byte(s))
		for _, e := range entries {
			if e.Name == "" || e.Device == "" || strings.HasPrefix(e.Name, "#") {
				t.Fatalf("parseCrypttab(%q): entry %+v", s, e)
			}
			for _, o := range e.Options {
				if o == "" || strings.Contains(o, ",") {
					t.Fatalf("parseCrypttab(%q): option %q", s, o)
				}
			}
			tpm2WithoutPIN(e.Options)
		}
	})
}

func FuzzParseSleepConf(f *testing.F) {
	f.Add("[Sleep]\nAllowSuspend=no\nHibernateMode=shutdown\n")
	f.Fuzz(func(t *testing.T, s string) {
		got := map[string]string{}
		_ = parseSleepConf([]byte(s), got)
		if len(got) > maxSleepConfKeys {
			t.Fatalf("parseSleepConf(%q): %d settings, more than %d", s, len(got), maxSleepConfKeys)
		}
		for k := range got {
			if k == "" || strings.ContainsAny(k, "\n=") {
				t.Fatalf("parseSleepConf(%q): key %q", s, k)
			}
		}
	})
}

// FuzzParseBitmap: whatever parses, printed again, parses to the same bits.
func FuzzParseBitmap(f *testing.F) {
	f.Add("120013\n")
	f.Add("3803078f800d001 feffffdfffefffff fffffffffffffffe\n")
	f.Fuzz(func(t *testing.T, s string) {
		set, err := parseBitmap(s, bits.UintSize, keyMax)
		if err != nil {
			return
		}
		for i, b := range set {
			if b < 0 || b > keyMax || i > 0 && b <= set[i-1] {
				t.Fatalf("parseBitmap(%q) = %v: out of range or order", s, set)
			}
		}
		again, err := parseBitmap(bitmapText(set...), bits.UintSize, keyMax)
		if err != nil || len(again) != len(set) {
			t.Fatalf("parseBitmap(%q) = %v; printed and parsed again: %v, %v", s, set, again, err)
		}
	})
}

func FuzzParseSwaps(f *testing.F) {
	f.Add("Filename Type Size Used Priority\n/dev/dm-1 partition 999420 0 -2\n/swap\\040file file 1 0 -3\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := parseSwaps([]byte(s))
		if len(got) > maxSwaps {
			t.Fatalf("parseSwaps(%q): %d entries", s, len(got))
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add("22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw\n40 22 0:33 /@swap /my\\040swap rw - btrfs /dev/mapper/root rw\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := parseMountinfo([]byte(s))
		if _, ok := mountOf(got, "/x/y"); ok && len(got) == 0 {
			t.Fatalf("mountOf found a mount among none")
		}
	})
}

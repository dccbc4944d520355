package initramfs

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Params
		wantErr string
	}{
		{name: "empty", in: "", want: DefaultParams()},
		{name: "other parameters ignored", in: "console=ttyS0 quiet memtest=1 ramwipefoo=1", want: DefaultParams()},
		{name: "reboot", in: "ramwipe.action=reboot", want: Params{Action: Reboot, Deadline: DefaultDeadline}},
		{name: "halt", in: "ramwipe.action=halt", want: Params{Action: Halt, Deadline: DefaultDeadline}},
		{name: "kexec verb means reboot", in: "ramwipe.action=kexec", want: Params{Action: Reboot, Deadline: DefaultDeadline}},
		{
			name: "all",
			in:   "ramwipe.action=halt ramwipe.quiet ramwipe.deadline=90s ramwipe.workers=3 ramwipe.pattern=0xa5 ramwipe.heldmap ramwipe.skip=1 ramwipe.lab=noop",
			want: Params{Action: Halt, Quiet: true, Deadline: 90 * time.Second, Workers: 3, Pattern: 0xa5, HeldMap: true, Skip: true, Lab: "noop"},
		},
		{name: "quiet off", in: "ramwipe.quiet=0", want: DefaultParams()},
		{name: "pattern zero", in: "ramwipe.pattern=zero", want: DefaultParams()},
		{name: "bad action keeps default", in: "ramwipe.action=explode", want: DefaultParams(), wantErr: `unknown action "explode"`},
		{name: "bad deadline", in: "ramwipe.deadline=-1s", want: DefaultParams(), wantErr: "positive duration"},
		{name: "bad workers", in: "ramwipe.workers=many", want: DefaultParams(), wantErr: "workers"},
		{name: "bad pattern", in: "ramwipe.pattern=0x100", want: DefaultParams(), wantErr: "pattern"},
		{name: "bad bool", in: "ramwipe.quiet=maybe", want: DefaultParams(), wantErr: "not a boolean"},
		{name: "unknown", in: "ramwipe.colour=red", want: DefaultParams(), wantErr: "unknown parameter ramwipe.colour"},
		{
			name: "errors do not stop later parameters",
			in:   "ramwipe.action=nope ramwipe.quiet",
			want: Params{Action: PowerOff, Quiet: true, Deadline: DefaultDeadline}, wantErr: "nope",
		},
		{name: "too long", in: strings.Repeat("x", maxCmdline+1), want: DefaultParams(), wantErr: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCmdline(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.want, got, "ParseCmdline(%q)", tt.in)
		})
	}
}

func TestParamsStringRoundTrip(t *testing.T) {
	p := Params{Action: Reboot, Quiet: true, Deadline: 42 * time.Second, Workers: 2, Pattern: 0x0f, HeldMap: true, Lab: "noop"}
	got, err := ParseCmdline(p.String())
	require.NoError(t, err)
	assert.Equal(t, p, got)
	assert.Empty(t, DefaultParams().String())
}

func TestDefaultCmdlineIsClean(t *testing.T) {
	// The contract must parse, set no ramwipe.* of its own (the loader adds
	// the action) and never cap memory with mem=.
	p, err := ParseCmdline(DefaultCmdline)
	require.NoError(t, err)
	assert.Equal(t, DefaultParams(), p)
	for _, f := range strings.Fields(DefaultCmdline) {
		assert.False(t, strings.HasPrefix(f, "mem="), "DefaultCmdline must not limit memory: %q", f)
	}
	assert.Contains(t, DefaultCmdline, "memtest=1")
	assert.Contains(t, DefaultCmdline, "init_on_free=1")
	assert.NotContains(t, DefaultCmdline, "page_poison", "page_poison=1 overrides init_on_free")
}

func FuzzParseCmdline(f *testing.F) {
	for _, s := range []string{"", DefaultCmdline, "ramwipe.action=reboot ramwipe.quiet", "ramwipe.deadline=1h ramwipe.workers=0", "ramwipe.pattern=0xff ramwipe.lab=noop ramwipe.heldmap=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, _ := ParseCmdline(s)
		switch p.Action {
		case PowerOff, Reboot, Halt:
		default:
			t.Fatalf("ParseCmdline(%q).Action = %q", s, p.Action)
		}
		if p.Deadline <= 0 || p.Workers < 0 {
			t.Fatalf("ParseCmdline(%q) = %+v", s, p)
		}
		// What String renders must parse back to the same parameters.
		again, err := ParseCmdline(p.String())
		if err != nil || again != p {
			t.Fatalf("round trip of %+v via %q = %+v, %v", p, p.String(), again, err)
		}
	})
}

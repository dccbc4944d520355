package bootmedium

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOverlayDirs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"rw,lowerdir=/run/live/rootfs/filesystem.squashfs/,upperdir=/run/live/overlay/rw,workdir=/run/live/overlay/work",
			[]string{"/run/live/rootfs/filesystem.squashfs/", "/run/live/overlay/rw"}},
		{"rw,lowerdir=/a:/b::/c,workdir=/w", []string{"/a", "/b", "/c"}},
		{`rw,lowerdir=/a\:b:/c\,d,upperdir=/u\\v`, []string{"/a:b", "/c,d", `/u\v`}},
		{"rw,lowerdir+=/l1,lowerdir+=/l2,datadir+=/d,upperdir=/u", []string{"/l1", "/l2", "/d", "/u"}},
		{"rw,upperdir=,lowerdir=", nil},
		{"", nil},
		{`trailing\`, nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, overlayDirs(tt.in), "overlayDirs(%q)", tt.in)
	}
}

func FuzzOverlayDirs(f *testing.F) {
	f.Add("rw,lowerdir=/run/live/rootfs/filesystem.squashfs/,upperdir=/run/live/overlay/rw,workdir=/run/live/overlay/work")
	f.Add(`rw,lowerdir=/a\:b:/c\,d,upperdir=/u\\v`)
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range overlayDirs(s) {
			if len(d) > len(s) {
				t.Fatalf("overlayDirs(%q): %q is longer than the options", s, d)
			}
		}
	})
}

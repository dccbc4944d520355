package bootmedium

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []mount
		wantErr string
	}{
		{
			name: "proc(5) example",
			in:   "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n",
			want: []mount{{major: 98, minor: 0, point: "/mnt2", fstype: "ext3", source: "/dev/root", superOpts: "rw,errors=continue"}},
		},
		{
			name: "no optional fields, no super options, blank line",
			in:   "27 1 254:0 / / rw - ext4 /dev/mapper/cryptroot\n\n",
			want: []mount{{major: 254, minor: 0, point: "/", fstype: "ext4", source: "/dev/mapper/cryptroot"}},
		},
		{
			name: "several optional fields",
			in:   "40 27 8:17 / /media/a rw shared:5 master:3 propagate_from:2 unbindable - vfat /dev/sdb1 rw",
			want: []mount{{major: 8, minor: 17, point: "/media/a", fstype: "vfat", source: "/dev/sdb1", superOpts: "rw"}},
		},
		{
			name: "escaped space, tab, newline, backslash",
			in:   `40 27 8:17 / /media/My\040Stick\011x\012y\134z rw - vfat /dev/sdb1 rw`,
			want: []mount{{major: 8, minor: 17, point: "/media/My Stick\tx\ny\\z", fstype: "vfat", source: "/dev/sdb1", superOpts: "rw"}},
		},
		{
			name: "not escapes",
			in:   `40 27 8:17 / /a\9\47\400 rw - vfat \ rw`,
			want: []mount{{major: 8, minor: 17, point: `/a\9\47\400`, fstype: "vfat", source: `\`, superOpts: "rw"}},
		},
		{name: "too short", in: "36 35 98:0 /mnt1", wantErr: "line 1"},
		{name: "no separator", in: "36 35 98:0 /mnt1 /mnt2 rw master:1 ext3 /dev/root rw", wantErr: "want ID PARENT"},
		{name: "separator without type and source", in: "36 35 98:0 /mnt1 /mnt2 rw -", wantErr: "want ID PARENT"},
		{name: "bad device", in: "36 35 98 / / rw - ext4 /dev/x rw", wantErr: `device "98"`},
		{name: "bad major", in: "36 35 x:0 / / rw - ext4 /dev/x rw", wantErr: "invalid syntax"},
		{name: "bad minor", in: "36 35 8:99999999999 / / rw - ext4 /dev/x rw", wantErr: "out of range"},
		{name: "error names the line", in: "27 1 254:0 / / rw - ext4 /dev/x rw\nbroken", wantErr: "mountinfo line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMountinfo(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr, "parseMountinfo(%q)", tt.in)
				return
			}
			require.NoError(t, err, "parseMountinfo(%q)", tt.in)
			assert.Equal(t, tt.want, got, "parseMountinfo(%q)", tt.in)
		})
	}
}

func TestParseMountinfoLongLine(t *testing.T) {
	long := "1 1 0:1 / / rw - overlay overlay rw,lowerdir=" + strings.Repeat("/x", 600000)
	_, err := parseMountinfo(strings.NewReader(long))
	require.ErrorContains(t, err, "token too long")
}

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

func FuzzParseMountinfo(f *testing.F) {
	f.Add("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n")
	f.Add(`27 1 0:35 / / rw,noatime - overlay overlay rw,lowerdir=/run/live/rootfs/filesystem.squashfs/,upperdir=/run/live/overlay/rw,workdir=/run/live/overlay/work`)
	f.Add(`40 27 8:17 / /media/My\040Stick rw shared:5 - vfat /dev/sdb1 rw` + "\n22 1 0:21 / /proc rw - proc proc rw\n")
	f.Fuzz(func(t *testing.T, s string) {
		mounts, err := parseMountinfo(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, m := range mounts {
			overlayDirs(m.superOpts)
			if strings.Count(s, "\n")+1 < len(mounts) {
				t.Fatalf("parseMountinfo(%q): %d mounts from fewer lines", s, len(mounts))
			}
		}
	})
}

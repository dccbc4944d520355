package mountinfo

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
		want    []Mount
		wantErr string
	}{
		{
			name: "proc(5) example",
			in:   "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n",
			want: []Mount{{Major: 98, Minor: 0, Point: "/mnt2", FSType: "ext3", Source: "/dev/root", SuperOpts: "rw,errors=continue"}},
		},
		{
			name: "no optional fields, no super options, blank line",
			in:   "27 1 254:0 / / rw - ext4 /dev/mapper/cryptroot\n\n",
			want: []Mount{{Major: 254, Minor: 0, Point: "/", FSType: "ext4", Source: "/dev/mapper/cryptroot"}},
		},
		{
			name: "several optional fields",
			in:   "40 27 8:17 / /media/a rw shared:5 master:3 propagate_from:2 unbindable - vfat /dev/sdb1 rw",
			want: []Mount{{Major: 8, Minor: 17, Point: "/media/a", FSType: "vfat", Source: "/dev/sdb1", SuperOpts: "rw"}},
		},
		{
			name: "escaped space, tab, newline, backslash",
			in:   `40 27 8:17 / /media/My\040Stick\011x\012y\134z rw - vfat /dev/sdb1 rw`,
			want: []Mount{{Major: 8, Minor: 17, Point: "/media/My Stick\tx\ny\\z", FSType: "vfat", Source: "/dev/sdb1", SuperOpts: "rw"}},
		},
		{
			name: "not escapes",
			in:   `40 27 8:17 / /a\9\47\400 rw - vfat \ rw`,
			want: []Mount{{Major: 8, Minor: 17, Point: `/a\9\47\400`, FSType: "vfat", Source: `\`, SuperOpts: "rw"}},
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
			got, err := Parse(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr, "Parse(%q)", tt.in)
				return
			}
			require.NoError(t, err, "Parse(%q)", tt.in)
			assert.Equal(t, tt.want, got, "Parse(%q)", tt.in)
		})
	}
}

func TestParseMountinfoLongLine(t *testing.T) {
	long := "1 1 0:1 / / rw - overlay overlay rw,lowerdir=" + strings.Repeat("/x", 600000)
	_, err := Parse(strings.NewReader(long))
	require.ErrorContains(t, err, "token too long")
}

func FuzzParse(f *testing.F) {
	f.Add("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n")
	f.Add(`27 1 0:35 / / rw,noatime - overlay overlay rw,lowerdir=/run/live/rootfs/filesystem.squashfs/,upperdir=/run/live/overlay/rw,workdir=/run/live/overlay/work`)
	f.Add(`40 27 8:17 / /media/My\040Stick rw shared:5 - vfat /dev/sdb1 rw` + "\n22 1 0:21 / /proc rw - proc proc rw\n")
	f.Fuzz(func(t *testing.T, s string) {
		mounts, err := Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		if strings.Count(s, "\n")+1 < len(mounts) {
			t.Fatalf("Parse(%q): %d mounts from fewer lines", s, len(mounts))
		}
		for _, m := range mounts {
			if len(m.Point) > len(s) || len(m.Source) > len(s) {
				t.Fatalf("Parse(%q): a field longer than the input: %+v", s, m)
			}
		}
	})
}

package bootmedium

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// mount is one line of /proc/self/mountinfo.
type mount struct {
	major, minor uint32
	point        string // mount point, unescaped
	fstype       string
	source       string // unescaped
	superOpts    string // per-superblock options, unescaped
}

// maxMountinfo bounds what parseMountinfo reads: a machine with thousands
// of container mounts stays far below.
const maxMountinfo = 16 << 20

// parseMountinfo parses /proc/<pid>/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	(1)(2) (3)   (4)   (5)      (6)      (7)  (8) (9)   (10)        (11)
//
// Fields (7) are optional and end at the "-" separator (8).
func parseMountinfo(r io.Reader) ([]mount, error) {
	var mounts []mount
	sc := bufio.NewScanner(io.LimitReader(r, maxMountinfo))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		m, err := parseMountLine(string(line))
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", n, err)
		}
		mounts = append(mounts, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	return mounts, nil
}

func parseMountLine(line string) (mount, error) {
	f := strings.Fields(line)
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if len(f) < 6 || sep < 0 || len(f) < sep+3 {
		return mount{}, fmt.Errorf("%q: want ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL…] - TYPE SOURCE [SUPEROPTIONS]", trunc(line))
	}
	maj, min, ok := strings.Cut(f[2], ":")
	if !ok {
		return mount{}, fmt.Errorf("device %q: want MAJOR:MINOR", trunc(f[2]))
	}
	major, err := strconv.ParseUint(maj, 10, 32)
	if err != nil {
		return mount{}, fmt.Errorf("device %q: %w", trunc(f[2]), err)
	}
	minor, err := strconv.ParseUint(min, 10, 32)
	if err != nil {
		return mount{}, fmt.Errorf("device %q: %w", trunc(f[2]), err)
	}
	m := mount{
		major:  uint32(major),
		minor:  uint32(minor),
		point:  unescape(f[4]),
		fstype: unescape(f[sep+1]),
		source: unescape(f[sep+2]),
	}
	if len(f) > sep+3 {
		m.superOpts = unescape(f[sep+3])
	}
	return m, nil
}

// unescape undoes the kernel's octal escapes (\040 for a space, \011,
// \012, \134) in mountinfo fields; other backslashes stay as they are.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]) {
			v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
			b.WriteByte(v)
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

func trunc(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// overlayDirs returns the lowerdir and upperdir paths of overlayfs super
// options: "lowerdir=/a:/b,upperdir=/c,workdir=/d", with "\:" and "\,"
// escaping separators, or the "lowerdir+=/a" form of newer kernels.
func overlayDirs(opts string) []string {
	var dirs []string
	for _, opt := range splitEscaped(opts, ',') {
		key, val, _ := strings.Cut(opt, "=")
		switch key {
		case "lowerdir", "lowerdir+", "datadir+":
			for _, d := range splitEscaped(val, ':') {
				if d != "" {
					dirs = append(dirs, unescapeBackslash(d))
				}
			}
		case "upperdir":
			if val != "" {
				dirs = append(dirs, unescapeBackslash(val))
			}
		}
	}
	return dirs
}

// splitEscaped splits s at sep, except where sep follows a backslash.
func splitEscaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func unescapeBackslash(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

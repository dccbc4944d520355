// Package mountinfo parses /proc/<pid>/mountinfo (proc(5)), for the boot
// medium trigger (which device holds /boot and /) and the readiness audit
// (which device holds a swap file). The file is the kernel's, but its mount
// points and sources are chosen by users: every field is bounded and
// unescaped, and a line that does not parse is an error, never a panic.
package mountinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Mount is one line of mountinfo.
type Mount struct {
	Major, Minor uint32
	Point        string // mount point, unescaped
	FSType       string
	Source       string // unescaped
	SuperOpts    string // per-superblock options, unescaped
}

// MaxBytes bounds what Parse reads: a machine with thousands of container
// mounts stays far below.
const MaxBytes = 16 << 20

// Parse parses a whole mountinfo file; the first line that does not parse
// fails it, naming the line.
func Parse(r io.Reader) ([]Mount, error) {
	var mounts []Mount
	sc := bufio.NewScanner(io.LimitReader(r, MaxBytes))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		m, err := ParseLine(string(line))
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

// ParseLine parses one line:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	(1)(2) (3)   (4)   (5)      (6)      (7)  (8) (9)   (10)        (11)
//
// Fields (7) are optional and end at the "-" separator (8).
func ParseLine(line string) (Mount, error) {
	f := strings.Fields(line)
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if len(f) < 6 || sep < 0 || len(f) < sep+3 {
		return Mount{}, fmt.Errorf("%q: want ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL…] - TYPE SOURCE [SUPEROPTIONS]", Trunc(line))
	}
	maj, min, ok := strings.Cut(f[2], ":")
	if !ok {
		return Mount{}, fmt.Errorf("device %q: want MAJOR:MINOR", Trunc(f[2]))
	}
	major, err := strconv.ParseUint(maj, 10, 32)
	if err != nil {
		return Mount{}, fmt.Errorf("device %q: %w", Trunc(f[2]), err)
	}
	minor, err := strconv.ParseUint(min, 10, 32)
	if err != nil {
		return Mount{}, fmt.Errorf("device %q: %w", Trunc(f[2]), err)
	}
	m := Mount{
		Major:  uint32(major),
		Minor:  uint32(minor),
		Point:  Unescape(f[4]),
		FSType: Unescape(f[sep+1]),
		Source: Unescape(f[sep+2]),
	}
	if len(f) > sep+3 {
		m.SuperOpts = Unescape(f[sep+3])
	}
	return m, nil
}

// Unescape undoes the kernel's octal escapes (\040 for a space, \011,
// \012, \134) in procfs fields (mountinfo, /proc/swaps); other backslashes
// stay as they are.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// Trunc shortens s for an error message.
func Trunc(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

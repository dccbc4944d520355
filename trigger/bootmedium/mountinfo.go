package bootmedium

import "strings"

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

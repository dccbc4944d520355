package lab

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func strip(s string) string {
	var e escapeStripper
	var out []byte
	for i := 0; i < len(s); i++ {
		if e.keep(s[i]) {
			out = append(out, s[i])
		}
	}
	return string(out)
}

func TestEscapeStripper(t *testing.T) {
	for in, want := range map[string]string{
		"LAB SHELL up 31.2\n": "LAB SHELL up 31.2\n",
		// What systemd 257 writes before a service that owns the tty.
		"\x1b[!p\x1b]104\x07\x1b[?7h\x1b7\x1b[32766;32766H\x1b[6n\x1b8LAB SHELL up 31.2\n": "LAB SHELL up 31.2\n",
		"\x1b]104\x1b\\LAB RC 0\n":              "LAB RC 0\n",
		"\x1b]0;title\x1b\x1b[0mtext\n":         "text\n",
		"\x1b(Bplain\x1b[1;31mred\x1b[0m\n":     "plainred\n",
		"\x1b]104 never terminated\nLAB RC 1\n": "\nLAB RC 1\n",
		"\x1b[12\nnext\n":                       "\nnext\n",
		"\x1bcreset\n":                          "reset\n",
	} {
		require.Equal(t, want, strip(in), "%q", in)
	}
}

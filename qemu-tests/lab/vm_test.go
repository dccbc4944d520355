package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

func TestMain(m *testing.M) {
	if os.Getenv("RAMWIPE_LAB_FAKE_QEMU") == "1" {
		fakeQEMUProcess()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeQEMUProcess plays QEMU for TestVMConsoleDrained: it answers QMP's greeting
// and capabilities, prints fakeLines console lines as fast as it can and
// exits at once.
func fakeQEMUProcess() {
	var path string
	for i, a := range os.Args {
		if a == "-qmp" && i+1 < len(os.Args) {
			path, _, _ = strings.Cut(strings.TrimPrefix(os.Args[i+1], "unix:"), ",")
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		os.Exit(3)
	}
	c, err := ln.Accept()
	if err != nil {
		os.Exit(3)
	}
	fmt.Fprintln(c, `{"QMP": {"version": {}, "capabilities": []}}`)
	var req struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.NewDecoder(c).Decode(&req); err != nil {
		os.Exit(3)
	}
	fmt.Fprintf(c, `{"return": {}, "id": %s}`+"\n", req.ID)
	w := bufio.NewWriter(os.Stdout)
	for i := range fakeLines {
		fmt.Fprintf(w, "console line %06d of the guest, as long as a kernel message\r\n", i)
	}
	fmt.Fprintln(w, "LAB LAST LINE")
	w.Flush()
}

const fakeLines = 4000

// slowWriter is a console log on a loaded host: 1 ms every 1000 bytes.
type slowWriter struct{ n int }

func (s *slowWriter) Write(b []byte) (int, error) {
	if s.n += len(b); s.n >= 1000 {
		s.n = 0
		time.Sleep(time.Millisecond)
	}
	return len(b), nil
}

// TestVMConsoleDrained: when QEMU has exited, every line it printed is in
// Lines(), however far behind the console reader was. With
// cmd.StdoutPipe, cmd.Wait closed the pipe at QEMU's exit and the unread
// tail was lost (the wipe's summary line, in one CI run).
func TestVMConsoleDrained(t *testing.T) {
	t.Setenv("RAMWIPE_LAB_FAKE_QEMU", "1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vm, err := StartVM(ctx, VMConfig{QEMU: os.Args[0], MemMiB: 1, Dir: t.TempDir(), Console: &slowWriter{}})
	require.NoError(t, err)
	defer os.Remove(vm.RAMPath)
	require.NoError(t, vm.Wait(ctx))
	lines := vm.Lines()
	require.NotEmpty(t, lines)
	assert.Equal(t, "LAB LAST LINE", lines[len(lines)-1].Text, "the console's tail was lost at QEMU's exit")
	assert.Equal(t, fakeLines+1, len(lines), "console lines after QEMU exited")
}

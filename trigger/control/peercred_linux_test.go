package control

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// ownGroups returns this process's supplementary groups as the kernel
// keeps them: sorted.
func ownGroups(t *testing.T) []uint32 {
	t.Helper()
	gs, err := os.Getgroups()
	require.NoError(t, err)
	out := make([]uint32, 0, len(gs))
	for _, g := range gs {
		out = append(out, uint32(g))
	}
	slices.Sort(out)
	return out
}

func TestPeerGroups(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	want := ownGroups(t)
	for _, n := range []int{0, 1, len(want), initialGroups} {
		got, err := peerGroups(fds[0], n)
		require.NoError(t, err, "peerGroups(fd, %d)", n)
		assert.Equal(t, want, got, "peerGroups(fd, %d)", n)
	}
	_, err = peerGroups(-1, 1)
	require.ErrorContains(t, err, "getsockopt SO_PEERGROUPS: bad file descriptor")
	_, err = getsockoptPeerGroups(fds[0], nil)
	require.ErrorContains(t, err, "buffer of 0 groups")
}

// TestIntegrationCurrentUser talks to a Server over a real socket, with
// the credentials the kernel reports: this process's.
func TestIntegrationCurrentUser(t *testing.T) {
	gid := -1 // root only: enough for root
	if os.Getuid() != 0 {
		gid = os.Getgid()
	}
	seen := make(chan Peer, 1)
	s := &Server{
		GID: gid,
		Handler: func(_ context.Context, p Peer, r Request) (string, error) {
			seen <- p
			return "done " + r.String(), nil
		},
	}
	path, _ := start(t, s)
	assert.Equal(t, Reply{OK: true, Text: "done test cli"}, do(t, path, Request{Command: CommandTest, Arg: "cli"}))
	want := Peer{PID: int32(os.Getpid()), UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Groups: ownGroups(t)}
	assert.Equal(t, want, <-seen, "the peer")
}

const helperEnv = "RAMWIPE_CONTROL_HELPER_SOCKET"

// helperMark starts the line on which TestHelperDo prints its reply.
const helperMark = "helper reply: "

// TestHelperDo is not a test: TestIntegrationOtherUser runs the test
// binary as another user to run it.
func TestHelperDo(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("run by TestIntegrationOtherUser as another user")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep, err := Do(ctx, path, Request{Command: CommandPanic})
	require.NoError(t, err)
	os.Stdout.Write(append([]byte(helperMark), rep.Marshal()...))
}

// TestIntegrationOtherUser runs a client as an unprivileged user with
// chosen groups, against the real credentials code.
func TestIntegrationOtherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root, to run a client as another user")
	}
	const (
		nobody  = 65534
		allowed = 4242
	)
	// A directory that nobody can reach, holding the socket and a copy of
	// the test binary (go test's own directory may be closed to others).
	dir, err := os.MkdirTemp("", "ramwipe-control-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	exe := filepath.Join(dir, "control.test")
	copyFile(t, exe)

	var many []uint32 // more than initialGroups: SO_PEERGROUPS answers ERANGE first
	for g := uint32(1000); g < 1000+initialGroups+36; g++ {
		many = append(many, g)
	}
	many = append(many, allowed)
	tests := []struct {
		name   string
		gid    uint32
		groups []uint32
		want   Reply
	}{
		{name: "supplementary group among many", gid: nobody, groups: many, want: Reply{OK: true, Text: "panic from 65534"}},
		{name: "primary group", gid: allowed, groups: []uint32{}, want: Reply{OK: true, Text: "panic from 65534"}},
		{name: "not a member", gid: nobody, groups: []uint32{1, 2},
			want: Reply{Text: "not authorized: uid 65534 is not root and not in group 4242, which may use ramwipe: an admin adds you with `sudo adduser YOUR-USER 4242`, then log out and in again"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make(chan Peer, 1)
			s := &Server{
				Path: filepath.Join(dir, "control.sock"),
				GID:  allowed,
				Handler: func(_ context.Context, p Peer, r Request) (string, error) {
					seen <- p
					return r.String() + " from " + strconv.FormatUint(uint64(p.UID), 10), nil
				},
			}
			path, log := start(t, s)

			cmd := exec.Command(exe, "-test.run=^TestHelperDo$")
			cmd.Dir = dir
			cmd.Env = []string{helperEnv + "=" + path}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: tt.gid, Groups: tt.groups}}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			require.NoError(t, err, "helper as uid %d:\n%s", nobody, out.String())
			got := helperReply(t, out.Bytes())
			assert.Equal(t, tt.want, got, "reply to uid %d gid %d groups %v", nobody, tt.gid, tt.groups)

			if !tt.want.OK {
				assert.True(t, log.has("refused uid=65534 gid=65534 pid="+strconv.Itoa(cmd.Process.Pid)+` command="panic": not authorized`), "log:\n%s", log)
				return
			}
			want := slices.Clone(tt.groups)
			slices.Sort(want)
			assert.Equal(t, Peer{PID: int32(cmd.Process.Pid), UID: nobody, GID: tt.gid, Groups: want}, <-seen, "the peer")
		})
	}
}

// copyFile copies the running test binary to dst, executable by all.
func copyFile(t *testing.T, dst string) {
	t.Helper()
	src, err := os.Executable()
	require.NoError(t, err)
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// helperReply finds the reply TestHelperDo printed.
func helperReply(t *testing.T, out []byte) Reply {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), helperMark); ok {
			rep, err := ParseReply([]byte(line + "\n"))
			require.NoError(t, err)
			return rep
		}
	}
	t.Fatalf("no %q line in the helper's output:\n%s", helperMark, out)
	return Reply{}
}

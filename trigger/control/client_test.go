package control

import (
	"context"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeDaemon listens at a new path and runs serve on each connection
// until the test ends.
func fakeDaemon(t *testing.T, serve func(c *net.UnixConn)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return path
}

// answer reads the request line, then sends reply and closes.
func answer(reply string) func(c *net.UnixConn) {
	return func(c *net.UnixConn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := readLine(c, MaxRequestLen); err != nil {
			return
		}
		c.Write([]byte(reply))
	}
}

func TestDo(t *testing.T) {
	tests := []struct {
		name    string
		reply   string
		want    Reply
		wantErr string
	}{
		{name: "ok", reply: "OK armed: hotkey, bootmedium\n", want: Reply{OK: true, Text: "armed: hotkey, bootmedium"}},
		{name: "err is a reply", reply: `ERR erase: a\nb` + "\n", want: Reply{Text: "erase: a\nb"}},
		{name: "bytes after the line are ignored", reply: "OK armed\nmore", want: Reply{OK: true, Text: "armed"}},
		{name: "not a reply", reply: "HELLO\n", wantErr: `not a RAMWIPE/1 reply: want "OK <text>" or "ERR <text>", got "HELLO"`},
		{name: "no reply", reply: "", wantErr: "it closed the connection without a reply"},
		{name: "cut short", reply: "OK arm", wantErr: "unexpected EOF"},
		{name: "too long", reply: "OK " + strings.Repeat("a", maxReplyLen), wantErr: "longer than 65541 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := fakeDaemon(t, answer(tt.reply))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := Do(ctx, path, Request{Command: CommandStatus})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr, "Do with reply %q", tt.reply)
				assert.Contains(t, err.Error(), "read reply from ramwiped at "+path)
				return
			}
			require.NoError(t, err, "Do with reply %q", tt.reply)
			assert.Equal(t, tt.want, got, "Do with reply %q", tt.reply)
		})
	}
}

func TestDoSendsOneLine(t *testing.T) {
	got := make(chan string, 1)
	path := fakeDaemon(t, func(c *net.UnixConn) {
		defer c.Close()
		line, err := readLine(c, MaxRequestLen)
		assert.NoError(t, err)
		got <- string(line)
		c.Write([]byte("OK\n"))
	})
	rep, err := Do(context.Background(), path, Request{Command: CommandTest, Arg: "hotkey"})
	require.NoError(t, err)
	assert.Equal(t, Reply{OK: true}, rep)
	assert.Equal(t, "RAMWIPE/1 test hotkey\n", <-got)
}

func TestDoInvalidRequest(t *testing.T) {
	_, err := Do(context.Background(), filepath.Join(t.TempDir(), "none"), Request{Command: CommandTest, Arg: "Hot Key"})
	require.ErrorContains(t, err, `invalid request: invalid trigger name "Hot Key"`)
}

func TestDoNoDaemon(t *testing.T) {
	t.Run("no socket", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "control.sock")
		_, err := Do(context.Background(), path, Request{Command: CommandPanic})
		require.ErrorContains(t, err, "connect to ramwiped at "+path)
		assert.ErrorContains(t, err, "(is ramwiped running?)")
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
	t.Run("stale socket", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "control.sock")
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		require.NoError(t, err)
		ln.SetUnlinkOnClose(false)
		ln.Close()
		_, err = Do(context.Background(), path, Request{Command: CommandPanic})
		require.ErrorContains(t, err, "connection refused (is ramwiped running?)")
	})
}

func TestDoHonoursContext(t *testing.T) {
	// A daemon that reads the request and never answers.
	path := fakeDaemon(t, func(c *net.UnixConn) {
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			readLine(c, MaxRequestLen)
			readLine(c, 1) // until the client goes
		}()
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		begin := time.Now()
		_, err := Do(ctx, path, Request{Command: CommandStatus})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorContains(t, err, "read reply from ramwiped at "+path)
		assert.Less(t, time.Since(begin), time.Second)
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		begin := time.Now()
		_, err := Do(ctx, path, Request{Command: CommandStatus})
		require.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(begin), time.Second)
	})
	t.Run("already done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Do(ctx, path, Request{Command: CommandStatus})
		require.ErrorIs(t, err, context.Canceled)
	})
}

// TestPanic: the request carries its send time; a refusal for anything but
// authorization sends it again without (a daemon older than the stamp);
// a busy daemon is asked again.
func TestPanic(t *testing.T) {
	tests := []struct {
		name    string
		replies []Reply
		want    []bool // per request sent: stamped
	}{
		{name: "taken", replies: []Reply{{OK: true, Text: "panic started"}}, want: []bool{true}},
		{name: "older daemon", replies: []Reply{{Text: `panic takes no argument, got "sent-5"`}, {OK: true}}, want: []bool{true, false}},
		{name: "not authorized", replies: []Reply{{Text: notAuthorizedPrefix + " uid 1000"}}, want: []bool{true}},
		{name: "busy then taken", replies: []Reply{{Text: busyPrefix + " 16"}, {OK: true}}, want: []bool{true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stamped []bool
			do := func(_ context.Context, r Request) (Reply, error) {
				require.NoError(t, r.Validate())
				require.Equal(t, CommandPanic, r.Command)
				stamped = append(stamped, r.Sent > 0)
				return tt.replies[len(stamped)-1], nil
			}
			rep, err := Panic(context.Background(), do)
			require.NoError(t, err)
			assert.Equal(t, tt.replies[len(tt.replies)-1], rep)
			assert.Equal(t, tt.want, stamped)
		})
	}
}

func TestWhileBusy(t *testing.T) {
	busy := Reply{Text: busyPrefix + " ramwiped is already serving 16 connections; try again"}
	var sent int
	do := func(replies ...Reply) func(context.Context, Request) (Reply, error) {
		sent = 0
		return func(context.Context, Request) (Reply, error) {
			sent++
			return replies[min(sent, len(replies))-1], nil
		}
	}
	rep, err := WhileBusy(context.Background(), do(busy, busy, Reply{OK: true, Text: "state armed"}), Request{Command: CommandStatus})
	require.NoError(t, err)
	assert.Equal(t, Reply{OK: true, Text: "state armed"}, rep)
	assert.Equal(t, 3, sent, "sent again while busy")

	rep, err = WhileBusy(context.Background(), do(Reply{Text: "not authorized: uid 1000"}), Request{Command: CommandStatus})
	require.NoError(t, err)
	assert.False(t, rep.OK)
	assert.Equal(t, 1, sent, "a refusal other than busy is final")

	ctx, cancel := context.WithTimeout(context.Background(), 3*busyRetry)
	defer cancel()
	rep, err = WhileBusy(ctx, do(busy), Request{Command: CommandStatus})
	require.NoError(t, err)
	assert.True(t, rep.Busy(), "busy to the end of ctx: the last reply")
	assert.Less(t, sent, 10, "no busy loop")
}

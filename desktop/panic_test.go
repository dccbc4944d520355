package desktop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/control"
)

const panicSummary = "ramwipe: the panic did NOT run — nothing was wiped"

func TestPanic(t *testing.T) {
	busy := result{rep: control.Reply{Text: "busy: ramwiped is already serving 16 connections; try again"}}
	tests := []struct {
		name      string
		answers   []result
		notifyErr bool
		wantReqs  int
		plainLast bool     // the last request without its send time
		wantErr   string   // "" for none
		wantBody  []string // nil: no notification
	}{
		{name: "taken", answers: []result{{rep: control.Reply{OK: true, Text: "panic started"}}}, wantReqs: 1},
		{name: "gone before the reply", answers: []result{{err: fmt.Errorf("read reply from ramwiped at x: %w: it closed the connection without a reply", io.EOF)}}, wantReqs: 1},
		{name: "busy, then taken", answers: []result{busy, busy, {rep: control.Reply{OK: true, Text: "panic started"}}}, wantReqs: 3},
		{name: "not authorized", answers: []result{{rep: control.Reply{Text: refusalText}}}, wantReqs: 1,
			wantErr: "panic: not authorized: uid 1000", wantBody: []string{"sudo adduser alice ramwipe\n"}},
		{name: "no daemon", answers: []result{{err: errors.New("connect to ramwiped at /s: connection refused (is ramwiped running?)")}}, wantReqs: 1,
			wantErr: "panic: connect to ramwiped at /s: connection refused", wantBody: []string{"ramwiped is not running or does not answer on /s: this machine is NOT protected.", "connection refused"}},
		{name: "refused, also without the send time", answers: []result{{rep: control.Reply{Text: "panic already running"}}, {rep: control.Reply{Text: "panic already running"}}}, wantReqs: 2, plainLast: true,
			wantErr: "panic: panic already running", wantBody: []string{"ramwiped refused: panic already running"}},
		{name: "dry run", answers: []result{{rep: control.Reply{OK: true, Text: control.DryRunPrefix + " would wipe now"}}}, wantReqs: 1,
			wantErr: "nothing was wiped (dry run: would wipe now)", wantBody: []string{"without --armed"}},
		{name: "no notification server", answers: []result{{rep: control.Reply{Text: refusalText}}}, notifyErr: true, wantReqs: 1,
			wantErr: "show the error as a notification: org.freedesktop.DBus.Error.ServiceUnknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeClient{answers: tt.answers}
			n := &fakeNotifier{}
			if tt.notifyErr {
				n.fail = 1
			}
			err := Panic(context.Background(), c, n, "/s", "alice")
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.wantErr)
			}
			assert.Len(t, c.reqs, tt.wantReqs, "requests sent")
			for i, r := range c.reqs {
				assert.Equal(t, control.CommandPanic, r.Command)
				assert.Empty(t, r.Arg)
				// Stamped with its send time; sent again without it when
				// refused: the daemon may be one that predates it.
				plain := tt.plainLast && i == len(c.reqs)-1
				assert.Equal(t, !plain, r.Sent > 0, "request %d: sent %v", i, r.Sent)
			}
			if tt.wantBody == nil {
				assert.Empty(t, n.got, "notifications")
				return
			}
			require.Len(t, n.got, 1, "notifications")
			assert.Equal(t, panicSummary, n.got[0].Summary)
			assert.Equal(t, UrgencyCritical, n.got[0].Urgency)
			for _, w := range tt.wantBody {
				assert.Contains(t, n.got[0].Body, w)
			}
		})
	}
	t.Run("dry run is ErrDryRun", func(t *testing.T) {
		c := &fakeClient{answers: []result{{rep: control.Reply{OK: true, Text: control.DryRunPrefix + " x"}}}}
		assert.ErrorIs(t, Panic(context.Background(), c, &fakeNotifier{}, "/s", ""), ErrDryRun)
	})
}

// TestPanicNotAuthorizedOverSocket sends the panic through a real control
// socket to a fake ramwiped that refuses it.
func TestPanicNotAuthorizedOverSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "ramwipe-desktop-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "control.sock")
	got := make(chan control.Request, 10)
	s := &control.Server{
		Path: path,
		GID:  os.Getgid(),
		Handler: func(ctx context.Context, p control.Peer, r control.Request) (string, error) {
			got <- r
			return "", errors.New(refusalText)
		},
		Logf: t.Logf,
	}
	require.NoError(t, s.Listen())
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- s.Serve(ctx) }()
	defer func() {
		stop()
		require.NoError(t, <-served)
	}()

	n := &fakeNotifier{}
	err = Panic(context.Background(), Socket(path), n, path, "alice")
	require.ErrorContains(t, err, "panic: not authorized")
	require.Len(t, n.got, 1)
	assert.Equal(t, Notification{
		Summary: panicSummary,
		Body:    "Your account is not in the group ramwipe. An admin adds you:\n  sudo adduser alice ramwipe\nthen log out and in again.",
		Urgency: UrgencyCritical,
	}, n.got[0])
	close(got)
	var reqs []control.Request
	for r := range got {
		reqs = append(reqs, r)
	}
	require.Len(t, reqs, 1, "one panic request, to the fake")
	assert.Equal(t, control.CommandPanic, reqs[0].Command)
	assert.Positive(t, reqs[0].Sent, "the request carries its send time")
}

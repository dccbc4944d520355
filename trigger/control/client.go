package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Do sends r to the daemon listening at path and returns its reply. An ERR
// reply is a [Reply] with OK false, not an error: errors are for requests
// that cannot be sent and replies that cannot be read. Do honours ctx's
// deadline and cancellation at every step; without either it waits as
// long as the daemon takes (after a panic request, possibly until the
// machine is gone).
func Do(ctx context.Context, path string, r Request) (Reply, error) {
	return DoFirst(ctx, []string{path}, r)
}

// DoFirst is [Do] on the first of paths that takes the connection: ramwipe
// passes the priority socket ([PriorityPath]), then the control socket.
// A path that cannot be connected to (missing: an older ramwiped; no
// permission: a user outside the group; nobody listening) is skipped; if
// none can be, the error is the last path's.
func DoFirst(ctx context.Context, paths []string, r Request) (Reply, error) {
	if err := r.Validate(); err != nil {
		return Reply{}, fmt.Errorf("invalid request: %w", err)
	}
	if len(paths) == 0 {
		return Reply{}, errors.New("connect to ramwiped: no socket path")
	}
	var d net.Dialer
	var c net.Conn
	var err error
	path := ""
	for _, path = range paths {
		if c, err = d.DialContext(ctx, "unix", path); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return Reply{}, fmt.Errorf("connect to ramwiped at %s: %w%s", path, err, dialHint(err))
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()

	// A server that refuses a connection (busy, not authorized) may
	// answer and close before reading: then the write fails, and the
	// answer is there to read.
	_, werr := c.Write(r.Marshal())
	line, err := readLine(c, maxReplyLen)
	switch {
	case err == nil:
	case werr != nil:
		return Reply{}, fmt.Errorf("send %s to ramwiped at %s: %w", r, path, ctxErr(ctx, werr))
	case errors.Is(err, errLineTooLong):
		return Reply{}, fmt.Errorf("read reply from ramwiped at %s: longer than %d bytes", path, maxReplyLen)
	case errors.Is(err, io.EOF):
		return Reply{}, fmt.Errorf("read reply from ramwiped at %s: %w: it closed the connection without a reply", path, err)
	default:
		return Reply{}, fmt.Errorf("read reply from ramwiped at %s: %w", path, ctxErr(ctx, err))
	}
	rep, err := ParseReply(line)
	if err != nil {
		return Reply{}, fmt.Errorf("read reply from ramwiped at %s: %w", path, err)
	}
	return rep, nil
}

// busyRetry is the wait before [WhileBusy] sends again to a daemon whose
// connection slots are all taken.
const busyRetry = 50 * time.Millisecond

// WhileBusy sends r with do (a [Do] or [DoFirst] bound to its socket
// paths), and again every 50 ms while the daemon answers that it is busy
// and ctx lasts; it returns the last reply.
func WhileBusy(ctx context.Context, do func(context.Context, Request) (Reply, error), r Request) (Reply, error) {
	for {
		rep, err := do(ctx, r)
		if err != nil || !rep.Busy() || ctx.Err() != nil {
			return rep, err
		}
		select {
		case <-ctx.Done():
			return rep, err
		case <-time.After(busyRetry):
		}
	}
}

// Panic sends a panic request with do (a [Do] or [DoFirst] bound to its
// socket paths), stamped with [Request.Sent], and returns the reply. It
// first raises this process's priority to nice -20 where it may (as root),
// so that a loaded machine does not hold the request back. It
// sends again every 50 ms while the daemon is busy and ctx lasts, and once
// more without the stamp if the daemon refuses the stamped request for
// any reason but authorization (a daemon older than the stamp does): no
// form of the request may cost the panic.
func Panic(ctx context.Context, do func(context.Context, Request) (Reply, error)) (Reply, error) {
	raisePriority()
	r := Request{Command: CommandPanic, Sent: MonotonicNow()}
	rep, err := WhileBusy(ctx, do, r)
	if err == nil && !rep.OK && !rep.Busy() && !rep.NotAuthorized() && r.Sent != 0 {
		r.Sent = 0
		rep, err = WhileBusy(ctx, do, r)
	}
	return rep, err
}

// ctxErr returns ctx's error in place of err if the deadlines that Do
// derives from ctx cut err short.
func ctxErr(ctx context.Context, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The socket's deadline can fire a moment before ctx's own.
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// dialHint says what a failure to connect usually means.
func dialHint(err error) string {
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		return " (is ramwiped running?)"
	case errors.Is(err, syscall.EACCES):
		return " (no permission to reach the socket)"
	}
	return ""
}

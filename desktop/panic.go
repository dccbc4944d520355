package desktop

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ramwipe/ramwipe/trigger/control"
)

// ErrDryRun is Panic's error when ramwiped runs in a dry run: it took the
// request, and wiped nothing.
var ErrDryRun = errors.New("ramwiped runs in a dry run: nothing was wiped")

// Panic asks ramwiped to wipe now, as the launcher does, and returns nil
// once ramwiped took the request (or the machine went down before it could
// say so). Otherwise — no daemon, not authorized, refused, a dry run — it
// shows why as a critical notification (user as in [Agent.User]) and
// returns the error joined with any error of the notifier's. It asks for
// no confirmation, and the notifier is not touched before the request is
// sent: nothing slows the panic. A busy daemon is asked again until ctx
// ends.
func Panic(ctx context.Context, c Client, n Notifier, socket, user string) error {
	rep, err := control.Panic(ctx, c.Do)
	var note Notification
	switch {
	case err != nil && errors.Is(err, io.EOF):
		return nil // the machine went down before ramwiped could answer
	case err != nil:
		err = fmt.Errorf("panic: %w", err)
		note = Notification{Body: fmt.Sprintf("ramwiped is not running or does not answer on %s: this machine is NOT protected. %v", socket, err)}
	case rep.NotAuthorized():
		err = fmt.Errorf("panic: %s", rep.Text)
		note = Notification{Body: notAuthorizedBody(rep.Text, user)}
	case !rep.OK:
		err = fmt.Errorf("panic: %s", rep.Text)
		note = Notification{Body: "ramwiped refused: " + rep.Text}
	case rep.DryRun():
		err = fmt.Errorf("panic: %w (%s)", ErrDryRun, rep.Text)
		note = Notification{Body: "ramwiped runs in a dry run (without --armed): " + rep.Text}
	default:
		return nil
	}
	note.Summary = "ramwipe: the panic did NOT run — nothing was wiped"
	note.Urgency = UrgencyCritical
	// The notification must not wait for ctx's request deadline, which may
	// have passed.
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
	defer cancel()
	if _, nerr := n.Notify(nctx, note); nerr != nil {
		return errors.Join(err, fmt.Errorf("show the error as a notification: %w", nerr))
	}
	return err
}

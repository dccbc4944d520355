package desktop

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ramwipe/ramwipe/trigger/control"
)

// Client sends one request to ramwiped; [Socket] is the real one.
type Client interface {
	Do(ctx context.Context, r control.Request) (control.Reply, error)
}

// Socket is a [Client] for the control socket at this path.
type Socket string

// Do sends r with [control.Do].
func (s Socket) Do(ctx context.Context, r control.Request) (control.Reply, error) {
	return control.Do(ctx, string(s), r)
}

var _ Client = Socket("")

// Urgency is a notification's urgency level, as the freedesktop
// notification specification numbers them.
type Urgency byte

// The urgency levels.
const (
	UrgencyLow Urgency = iota
	UrgencyNormal
	UrgencyCritical
)

// Notification is one desktop notification.
type Notification struct {
	Summary string
	// Body is plain text; the [Notifier] escapes it for servers that read
	// markup.
	Body    string
	Urgency Urgency
	// Replaces is the id of an earlier notification that this one takes
	// the place of; 0 for none.
	Replaces uint32
}

// Notifier shows notifications; [DBus] is the real one.
type Notifier interface {
	// Notify shows n and returns its id.
	Notify(ctx context.Context, n Notification) (uint32, error)
}

// Timing of [Agent]'s polls.
const (
	// DefaultInterval is the time between polls while ramwiped answers.
	DefaultInterval = 30 * time.Second
	// ConfirmFailures is how many failed polls in a row make ramwiped
	// stopped.
	ConfirmFailures = 3
	// firstRetry is the wait after the first failed poll; it doubles with
	// each failure, up to the interval.
	firstRetry = time.Second
	// requestTimeout bounds one status request.
	requestTimeout = 10 * time.Second
)

// Agent follows ramwiped's state and notifies on every change. Set its
// fields, then call [Agent.Run] once.
type Agent struct {
	Client   Client
	Notifier Notifier
	// Socket is the control socket's path, for the text of a
	// notification; the Client decides where requests go.
	Socket string
	// User is the login name that the not-authorized notification puts
	// in its `sudo adduser` line; "" writes $USER.
	User string
	// Interval is the time between polls while ramwiped answers; zero or
	// less means [DefaultInterval].
	Interval time.Duration
	// Logf receives failures to notify; nil discards.
	Logf func(string, ...any)

	// after is time.After; tests replace it.
	after func(time.Duration) <-chan time.Time

	shown    key    // what the last notification shown said
	shownID  uint32 // its id
	failures int    // polls failed in a row
}

// condition is what one poll found.
type condition int

const (
	condNone          condition = iota // nothing shown yet
	condArmed                          // armed: a trigger wipes
	condDryRun                         // a trigger only logs
	condDegraded                       // a trigger erases keys and powers off, no wipe
	condStopped                        // no connection, or no answer
	condNotAuthorized                  // the user may not use the socket
	condUnreadable                     // an answer this agent does not understand
	condBusy                           // every connection slot taken: no news
)

var conditionNames = [...]string{
	condNone: "none", condArmed: "armed", condDryRun: "dry-run", condDegraded: "degraded",
	condStopped: "stopped", condNotAuthorized: "not-authorized", condUnreadable: "unreadable", condBusy: "busy",
}

func (c condition) String() string {
	if c < 0 || int(c) >= len(conditionNames) {
		return fmt.Sprintf("condition(%d)", int(c))
	}
	return conditionNames[c]
}

// observation is one poll's result: the condition and what a notification
// about it says.
type observation struct {
	cond condition
	// why is ramwiped's explanation of a degraded or dry-run state.
	why string
	// hotkey is the panic chord of an armed daemon, "" if it has none.
	hotkey string
	// detail is the error or reply text behind stopped, not authorized or
	// unreadable.
	detail string
}

// key is what makes two observations the same news.
type key struct {
	cond condition
	why  string
}

func (o observation) key() key {
	switch o.cond {
	case condDegraded, condDryRun:
		return key{o.cond, o.why}
	}
	return key{cond: o.cond}
}

// observe classifies the answer to one status request.
func observe(rep control.Reply, err error) observation {
	switch {
	case err != nil:
		return observation{cond: condStopped, detail: err.Error()}
	case rep.Busy():
		return observation{cond: condBusy}
	case rep.NotAuthorized():
		return observation{cond: condNotAuthorized, detail: rep.Text}
	case !rep.OK:
		return observation{cond: condUnreadable, detail: rep.Text}
	}
	var st control.Status
	if err := json.Unmarshal([]byte(rep.Text), &st); err != nil {
		return observation{cond: condUnreadable, detail: fmt.Sprintf("status does not parse: %v", err)}
	}
	switch st.State {
	case control.StateArmed:
		return observation{cond: condArmed, hotkey: st.Hotkey}
	case control.StateDegraded:
		return observation{cond: condDegraded, why: st.Why}
	case control.StateDryRun:
		return observation{cond: condDryRun, why: st.Why}
	}
	return observation{cond: condUnreadable, detail: fmt.Sprintf("state %v", st.State)}
}

// Run polls and notifies until ctx is done (then it returns nil), or until
// it has shown that the user is not authorized.
func (a *Agent) Run(ctx context.Context) error {
	after := a.after
	if after == nil {
		after = time.After
	}
	for {
		wait, done := a.step(ctx)
		if done || ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-after(wait):
		}
	}
}

// step polls once, notifies if the news changed, and returns the wait
// before the next poll, or done when there is no point in polling again.
func (a *Agent) step(ctx context.Context) (wait time.Duration, done bool) {
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	rep, err := a.Client.Do(rctx, control.Request{Command: control.CommandStatus})
	cancel()
	if ctx.Err() != nil {
		return 0, true
	}
	o := observe(rep, err)
	if o.cond == condBusy {
		return a.interval(), false
	}
	if o.cond == condStopped {
		a.failures++
		if a.failures < ConfirmFailures {
			return a.retry(), false
		}
	} else {
		a.failures = 0
	}
	if k := o.key(); k != a.shown {
		n := message(o, a.Socket, a.User)
		n.Replaces = a.shownID
		id, err := a.Notifier.Notify(ctx, n)
		if err != nil {
			// Shown stays as it was: the next poll tries again.
			a.logf("notify %q: %v", n.Summary, err)
		} else {
			a.shown, a.shownID = k, id
		}
	}
	switch o.cond {
	case condStopped:
		return a.retry(), false
	case condNotAuthorized:
		return a.interval(), a.shown.cond == condNotAuthorized
	}
	return a.interval(), false
}

func (a *Agent) interval() time.Duration {
	if a.Interval <= 0 {
		return DefaultInterval
	}
	return a.Interval
}

// retry is the wait after the a.failures'th failed poll in a row.
func (a *Agent) retry() time.Duration {
	d := firstRetry
	for i := 1; i < a.failures && d < a.interval(); i++ {
		d *= 2
	}
	return min(d, a.interval())
}

func (a *Agent) logf(format string, args ...any) {
	if a.Logf != nil {
		a.Logf(format, args...)
	}
}

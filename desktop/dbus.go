package desktop

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
)

// The freedesktop notification service (Desktop Notifications
// Specification 1.2).
const (
	notifyDest   = "org.freedesktop.Notifications"
	notifyPath   = dbus.ObjectPath("/org/freedesktop/Notifications")
	notifyMethod = notifyDest + ".Notify"
	capsMethod   = notifyDest + ".GetCapabilities"
)

// DBus is a [Notifier] that calls org.freedesktop.Notifications.Notify on
// a session bus. It connects at the first notification, not before (the
// panic path sends its request first), and again after a failed call. Safe
// for concurrent use.
type DBus struct {
	// Address is the session bus's address
	// (DBUS_SESSION_BUS_ADDRESS); it must be set. DBus never starts a bus.
	Address string
	// AppName names the sender; Icon is an icon name or an absolute
	// path, "" for none.
	AppName, Icon string

	mu     sync.Mutex
	conn   *dbus.Conn
	markup bool // the server reads markup in bodies
}

var _ Notifier = (*DBus)(nil)

// escapeMarkup escapes the characters that the specification's markup
// gives a meaning.
func escapeMarkup(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Notify shows n and returns the id the server gave it.
func (d *DBus) Notify(ctx context.Context, n Notification) (uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.connect(ctx); err != nil {
		return 0, err
	}
	body := n.Body
	if d.markup {
		// The specification's markup is a subset of XML: a server that reads it
		// would take "<" in ramwiped's text for a tag.
		body = escapeMarkup(body)
	}
	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(byte(n.Urgency))}
	const expireDefault = int32(-1) // the server decides
	var id uint32
	err := d.conn.Object(notifyDest, notifyPath).CallWithContext(ctx, notifyMethod, 0,
		d.AppName, n.Replaces, d.Icon, n.Summary, body, []string{}, hints, expireDefault).Store(&id)
	if err != nil {
		d.close()
		return 0, fmt.Errorf("D-Bus %s: %w", notifyMethod, err)
	}
	return id, nil
}

// connect connects if not connected, and asks the server whether it reads
// markup.
func (d *DBus) connect(ctx context.Context) error {
	if d.conn != nil {
		return nil
	}
	if d.Address == "" {
		return errors.New("connect to the session D-Bus: no address (DBUS_SESSION_BUS_ADDRESS is not set)")
	}
	// WithContext bounds the connection's own setup; the connection lives on.
	conn, err := dbus.Connect(d.Address, dbus.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		return fmt.Errorf("connect to the session D-Bus at %s: %w", d.Address, err)
	}
	var caps []string
	if err := conn.Object(notifyDest, notifyPath).CallWithContext(ctx, capsMethod, 0).Store(&caps); err != nil {
		conn.Close()
		return fmt.Errorf("D-Bus %s: %w (is a notification server running?)", capsMethod, err)
	}
	d.conn, d.markup = conn, slices.Contains(caps, "body-markup")
	return nil
}

// Close closes the connection, if any.
func (d *DBus) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.close()
}

func (d *DBus) close() error {
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn = nil
	return err
}

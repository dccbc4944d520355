package desktop_test

import (
	"context"
	"fmt"

	"github.com/ramwipe/ramwipe/desktop"
	"github.com/ramwipe/ramwipe/trigger/control"
)

func ExampleChordText() {
	fmt.Println(desktop.ChordText("KEY_LEFTCTRL+KEY_RIGHTCTRL+KEY_BACKSPACE"))
	fmt.Println(desktop.ChordText("KEY_PAUSE*3/2s"))
	// Output:
	// Left Ctrl + Right Ctrl + Backspace
	// Pause, 3 times within 2s
}

// refusing is a ramwiped that refuses everyone.
type refusing struct{}

func (refusing) Do(context.Context, control.Request) (control.Reply, error) {
	return control.Reply{Text: "not authorized: uid 1000 is not root and not in group ramwipe, which may use ramwipe"}, nil
}

// printer shows notifications on stdout.
type printer struct{}

func (printer) Notify(_ context.Context, n desktop.Notification) (uint32, error) {
	fmt.Printf("[urgency %d] %s\n%s\n", n.Urgency, n.Summary, n.Body)
	return 1, nil
}

func ExamplePanic() {
	err := desktop.Panic(context.Background(), refusing{}, printer{}, "/run/ramwipe/control.sock", "alice")
	fmt.Println("error:", err)
	// Output:
	// [urgency 2] ramwipe: the panic did NOT run — nothing was wiped
	// Your account is not in the group ramwipe. An admin adds you:
	//   sudo adduser alice ramwipe
	// then log out and in again.
	// error: panic: not authorized: uid 1000 is not root and not in group ramwipe, which may use ramwipe
}

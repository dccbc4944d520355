package control_test

import (
	"fmt"

	"github.com/ramwipe/ramwipe/trigger/control"
)

func ExampleParseRequest() {
	r, err := control.ParseRequest([]byte("RAMWIPE/1 test hotkey\n"))
	fmt.Printf("%q %q %v\n", r.Command, r.Arg, err)
	_, err = control.ParseRequest([]byte("RAMWIPE/2 status\n"))
	fmt.Println(err)
	// Output:
	// "test" "hotkey" <nil>
	// unsupported protocol "RAMWIPE/2": this daemon speaks RAMWIPE/1
}

func ExampleReply_Marshal() {
	b := control.Reply{Text: "erase cryptroot: device busy\nkexec: not loaded"}.Marshal()
	fmt.Printf("%s", b)
	r, err := control.ParseReply(b)
	fmt.Printf("%q %v\n", r.Text, err)
	// Output:
	// ERR erase cryptroot: device busy\nkexec: not loaded
	// "erase cryptroot: device busy\nkexec: not loaded" <nil>
}

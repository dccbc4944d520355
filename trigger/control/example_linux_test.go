package control_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ramwipe/ramwipe/trigger/control"
)

func ExampleServer() {
	dir, err := os.MkdirTemp("", "ramwipe-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s := &control.Server{
		Path: filepath.Join(dir, "control.sock"),
		// ramwiped resolves its group's name once, at start; here the
		// current user's group lets this example in.
		GID: os.Getgid(),
		Handler: func(ctx context.Context, p control.Peer, r control.Request) (string, error) {
			switch r.Command {
			case control.CommandStatus:
				return "armed", nil
			case control.CommandTest:
				return "", fmt.Errorf("test %s: no such trigger", r.Arg)
			}
			return "", fmt.Errorf("%s: not in this example", r.Command)
		},
	}
	if err := s.Listen(); err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- s.Serve(ctx) }()

	for _, r := range []control.Request{{Command: "status"}, {Command: "test", Arg: "smoke"}} {
		rep, err := control.Do(ctx, s.Path, r)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s -> %s", r, rep.Marshal())
	}
	stop()
	if err := <-served; err != nil {
		log.Fatal(err)
	}
	// Output:
	// status -> OK armed
	// test smoke -> ERR test smoke: no such trigger
}

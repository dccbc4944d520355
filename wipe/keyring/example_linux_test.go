package keyring_test

import (
	"log"

	"github.com/ramwipe/ramwipe/wipe/keyring"
)

// Open when arming, sweep on a trigger. (Not run: it would drop this
// machine's disk keys.)
func ExampleSweeper_Sweep() {
	s, err := keyring.Open()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	s.Logf = log.Printf
	keys, err := s.Keys()
	log.Printf("disk keys in the keyrings: %v (%v)", keys, err)

	// On a trigger: no file is opened from here on.
	n, err := s.Sweep()
	log.Printf("invalidated %d keys: %v", n, err)
}

//go:build !linux

package control

import (
	"errors"
	"net"
)

// peerCredentials fails: SO_PEERCRED and SO_PEERGROUPS are Linux's.
func peerCredentials(*net.UnixConn) (Peer, error) {
	return Peer{}, errors.New("read peer credentials: SO_PEERCRED needs Linux")
}

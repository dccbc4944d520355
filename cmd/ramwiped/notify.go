package main

import (
	"net"
	"os"
)

// notify tells systemd about the service (sd_notify(3): "READY=1",
// "STATUS=…") when it runs as a Type=notify unit, which sets
// $NOTIFY_SOCKET; elsewhere it does nothing. A name starting with '@' is an
// abstract socket, which package net understands as is.
func notify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

// statusLine is the one-line summary systemctl status shows.
func statusLine(st Status) string {
	line := st.State.String()
	if st.Why != "" {
		line += ": " + st.Why
	} else {
		line += ": " + st.Kernel
	}
	return "STATUS=" + line
}

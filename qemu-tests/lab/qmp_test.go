package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeQEMU greets, then answers each command with {"return": NAME} — the
// "slow" command only after the next command arrived, as QEMU's reply to a
// command the client gave up on comes late.
func fakeQEMU(t *testing.T, l net.Listener) {
	conn, err := l.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	conn.Write([]byte(`{"QMP": {"version": {}}}` + "\n"))
	in := bufio.NewScanner(conn)
	var late []byte
	for in.Scan() {
		var req struct {
			Execute string          `json:"execute"`
			ID      json.RawMessage `json:"id"`
		}
		require.NoError(t, json.Unmarshal(in.Bytes(), &req))
		if len(req.ID) == 0 {
			req.ID = json.RawMessage("null")
		}
		reply := []byte(`{"return": "` + req.Execute + `", "id": ` + string(req.ID) + "}\n")
		if req.Execute == "slow" {
			late = reply
			continue
		}
		conn.Write([]byte(`{"event": "STOP", "data": {}}` + "\n"))
		if late != nil {
			conn.Write(late) // the reply to the command that timed out
			late = nil
		}
		conn.Write(reply)
	}
}

func TestQMPRepliesMatchTheirCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qmp.sock")
	l, err := net.Listen("unix", path)
	require.NoError(t, err)
	defer l.Close()
	go fakeQEMU(t, l)

	ctx := context.Background()
	q, err := DialQMP(ctx, path)
	require.NoError(t, err)
	defer q.Close()

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = q.Execute(short, "slow", nil)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)

	got, err := q.Execute(ctx, "query-status", nil)
	require.NoError(t, err)
	assert.JSONEq(t, `"query-status"`, string(got), "the late reply to slow is not query-status's")
	got, err = q.Execute(ctx, "cont", nil)
	require.NoError(t, err)
	assert.JSONEq(t, `"cont"`, string(got))
	assert.Equal(t, "STOP", (<-q.Events).Name, "events still flow")

	q.Close()
	_, err = q.Execute(ctx, "stop", nil)
	assert.Error(t, err, "a closed connection")
}

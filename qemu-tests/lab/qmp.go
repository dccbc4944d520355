package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// QMP is a client of the QEMU Machine Protocol over a unix socket: one
// command at a time, events delivered on Events.
type QMP struct {
	conn    net.Conn
	mu      sync.Mutex // one command in flight
	replies chan qmpMsg
	// Events receives every asynchronous event (SHUTDOWN, STOP, …); events
	// nobody reads are dropped once the buffer is full.
	Events chan Event
}

// Event is a QMP event.
type Event struct {
	Name string          `json:"event"`
	Data json.RawMessage `json:"data"`
	At   time.Time       `json:"-"`
}

type qmpMsg struct {
	Event  string          `json:"event"`
	Data   json.RawMessage `json:"data"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	QMP json.RawMessage `json:"QMP"`
}

// DialQMP connects to a QMP socket, retrying until ctx ends (QEMU creates
// the socket a moment after it starts), and enters command mode.
func DialQMP(ctx context.Context, path string) (*QMP, error) {
	var conn net.Conn
	for {
		var err error
		conn, err = (&net.Dialer{}).DialContext(ctx, "unix", path)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp: connect %s: %w", path, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	q := &QMP{conn: conn, replies: make(chan qmpMsg, 1), Events: make(chan Event, 64)}
	greeting := make(chan error, 1)
	go q.read(greeting)
	select {
	case err := <-greeting:
		if err != nil {
			conn.Close()
			return nil, err
		}
	case <-ctx.Done():
		conn.Close()
		return nil, fmt.Errorf("qmp: no greeting: %w", ctx.Err())
	}
	if _, err := q.Execute(ctx, "qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return q, nil
}

func (q *QMP) read(greeting chan<- error) {
	sc := bufio.NewScanner(q.conn)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	first := true
	for sc.Scan() {
		var m qmpMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue
		}
		switch {
		case first && m.QMP != nil:
			first = false
			greeting <- nil
		case m.Event != "":
			select {
			case q.Events <- Event{Name: m.Event, Data: m.Data, At: time.Now()}:
			default:
			}
		default:
			q.replies <- m
		}
	}
	if first {
		greeting <- errors.New("qmp: connection closed before the greeting")
	}
	close(q.replies)
}

// Execute runs a QMP command and returns its "return" value.
func (q *QMP) Execute(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	select {
	case m, ok := <-q.replies:
		if !ok {
			return nil, fmt.Errorf("qmp %s: connection closed", cmd)
		}
		if m.Error != nil {
			return nil, fmt.Errorf("qmp %s: %s: %s", cmd, m.Error.Class, m.Error.Desc)
		}
		return m.Return, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("qmp %s: %w", cmd, ctx.Err())
	}
}

// Close closes the connection.
func (q *QMP) Close() error { return q.conn.Close() }

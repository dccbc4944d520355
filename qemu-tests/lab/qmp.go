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
// command at a time, events delivered on Events. Every command carries an
// id and takes only the reply with its id: the late reply to a command
// that timed out is dropped, never taken by the next command as its own.
type QMP struct {
	conn    net.Conn
	mu      sync.Mutex // one command in flight
	pmu     sync.Mutex // guards pending, nextID, closed
	pending map[uint64]chan qmpMsg
	nextID  uint64
	closed  bool
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
	ID  *uint64         `json:"id"`
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
	q := &QMP{conn: conn, pending: map[uint64]chan qmpMsg{}, Events: make(chan Event, 64)}
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
		case m.ID != nil:
			q.pmu.Lock()
			if c, ok := q.pending[*m.ID]; ok {
				c <- m // buffered: one reply per id
				delete(q.pending, *m.ID)
			}
			q.pmu.Unlock()
		}
	}
	if first {
		greeting <- errors.New("qmp: connection closed before the greeting")
	}
	q.pmu.Lock()
	q.closed = true
	for id, c := range q.pending {
		close(c)
		delete(q.pending, id)
	}
	q.pmu.Unlock()
}

// Execute runs a QMP command and returns its "return" value.
func (q *QMP) Execute(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pmu.Lock()
	if q.closed {
		q.pmu.Unlock()
		return nil, fmt.Errorf("qmp %s: connection closed", cmd)
	}
	q.nextID++
	id := q.nextID
	reply := make(chan qmpMsg, 1)
	q.pending[id] = reply
	q.pmu.Unlock()
	defer func() {
		q.pmu.Lock()
		delete(q.pending, id) // a reply after the timeout is dropped
		q.pmu.Unlock()
	}()
	req := map[string]any{"execute": cmd, "id": id}
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
	case m, ok := <-reply:
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

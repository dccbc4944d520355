package control

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Peer is the process at the other end of a connection, as the kernel
// recorded it when that process connected.
type Peer struct {
	PID      int32
	UID, GID uint32
	// Groups are the supplementary groups; nil if the kernel could not
	// tell (before Linux 4.13).
	Groups []uint32
}

// Handler serves one authorized request; reply text for OK, error for ERR.
// It runs on the connection's goroutine, so several may run at once. Its
// ctx is the connection's: it is cancelled when the peer hangs up (closes
// the connection, exits, is killed) or sends anything after its request,
// and when [Server.Serve] stops. A handler that waits (a rehearsal) must
// stop waiting then: nobody is there for the answer.
type Handler func(ctx context.Context, p Peer, r Request) (string, error)

// Server serves the control socket. Set its fields, call [Server.Listen],
// then [Server.Serve], once.
type Server struct {
	// Path is the socket's path; its directory is created 0755 if missing.
	Path string
	// GID is the group whose members may use the socket besides root, as
	// primary or supplementary group; -1 lets only root in. The caller
	// resolves the group's name: the server reads no file per request.
	GID int
	// Group is the name of that group, for the refusal that tells a user
	// how to get in; "" names it by number.
	Group string
	// Handler serves authorized requests.
	Handler Handler
	// Logf receives refusals (with uid, gid, pid and command), bad
	// requests, every request but status and panic, and handler errors;
	// nil discards. Refusals and bad requests are rate-limited (a few per
	// [refusalLogWindow], then one line with the count of those left out),
	// so that a flood costs neither time nor journal; [Server.Refused]
	// counts them all. A panic request is never logged here: the log may
	// go to a disk the panic is taking away, so the Handler decides.
	Logf func(string, ...any)
	// MaxConns bounds the connections from authorized peers being served
	// at once; beyond it a connection is refused at once with a reply for
	// which [Reply.Busy] is true. Connections from other users are bounded
	// separately by the same number, so they cannot crowd out those who
	// may panic. Zero or less means 16. Each accept loop refuses strangers
	// at 100 a second at most (after a burst of 20): a faster flood waits
	// in the kernel's accept queue, and ramwiped's CPU stays free for a
	// panic on the priority socket.
	MaxConns int
	// ReadTimeout bounds the time from accepting a connection to having
	// its whole request line; zero or less means 2s.
	ReadTimeout time.Duration
	// PriorityPath, if set, is a second socket for those who may use
	// ramwiped: mode 0660 with group GID (0600 when GID is -1), so that
	// the kernel refuses everyone else at connect(2). The main socket is
	// open to all, and a connection waits in its accept queue behind every
	// one made before it: an unprivileged flood there (measured in the
	// memory lab: 500 held connections and a client sending garbage)
	// delayed a root `ramwipe panic` by seconds. Nobody outside the group
	// can queue anything on this one. Its connections have their own
	// accept loop and are served like the main socket's; ramwipe tries it
	// first (see [DoFirst] and [PriorityPath]). If it cannot be made
	// (chown needs CAP_CHOWN), Listen logs why and goes on without it.
	PriorityPath string

	// strangerEvery paces the refusals of peers who may not use the
	// socket: one per strangerEvery on average, after a burst of
	// strangerBurst; zero means defaultStrangerEvery. Tests shorten it.
	strangerEvery time.Duration
	// sleep is the pacer's wait; nil means a timer. Tests count its calls.
	sleep func(context.Context, time.Duration)

	// peer reads a connection's credentials; nil means peerCredentials.
	// Tests set it to play a user they are not.
	peer func(*net.UnixConn) (Peer, error)

	ln, pln *net.UnixListener
	refused atomic.Uint64
}

// PriorityPath is the priority socket that ramwiped listens on beside the
// control socket at path (see [Server.PriorityPath]):
// /run/ramwipe/control.priority.sock for the default.
func PriorityPath(path string) string {
	return strings.TrimSuffix(path, ".sock") + ".priority.sock"
}

// Refused returns how many connections this server has refused: peers
// not authorized, and authorized ones turned away because every slot was
// taken. Safe to call at any time, from any goroutine.
func (s *Server) Refused() uint64 { return s.refused.Load() }

const (
	defaultMaxConns = 16
	// defaultStrangerEvery and strangerBurst pace an accept loop's
	// refusals of strangers: 100 a second, after a burst of 20. No honest
	// use of the socket comes near that (a stranger may do nothing there
	// but be refused); a flood beyond it waits in the kernel's accept queue,
	// where it costs ramwiped nothing, and so does not take the CPU from
	// the priority socket's accept loop and a panic. In the memory lab's
	// flood (400–900 garbage connections a second) the request sent → keys
	// erased over the priority socket was 22–35 ms in four runs of five
	// and 108.5 ms in the fifth without pacing, 27–57 ms in eight of eight
	// with it.
	defaultStrangerEvery = 10 * time.Millisecond
	strangerBurst        = 20
	defaultReadTimeout   = 2 * time.Second
	// writeTimeout bounds writing a reply: a client that does not read
	// its reply does not hold its connection slot for long.
	writeTimeout = 2 * time.Second
	// refuseTimeout bounds writing a refusal from the accept loop, which
	// writes to a fresh connection whose buffer is empty.
	refuseTimeout = 100 * time.Millisecond
	// maxSocketPath is sizeof(sockaddr_un.sun_path) less the final NUL.
	maxSocketPath = 107
	// busyPrefix starts the busy refusal; [Reply.Busy] looks for it.
	busyPrefix = "busy:"
	// notAuthorizedPrefix starts the refusal of a peer who may not use
	// the socket; [Reply.NotAuthorized] looks for it.
	notAuthorizedPrefix = "not authorized:"
	// refusalLogWindow and refusalLogBurst rate-limit the log lines about
	// refusals and bad requests: at most refusalLogBurst in a window.
	refusalLogWindow = 10 * time.Second
	refusalLogBurst  = 5
)

// errNoPeerGroups is wrapped by a credentials error that leaves the
// supplementary groups unknown but the rest of [Peer] filled in.
var errNoPeerGroups = errors.New("supplementary groups unknown (SO_PEERGROUPS needs Linux 4.13)")

// errLineTooLong is readLine's error for a line longer than allowed.
var errLineTooLong = errors.New("line too long")

// errNoRequest means the client went away (or the server is stopping)
// before sending anything: there is no one to answer.
var errNoRequest = errors.New("no request")

// Listen creates the socket at [Server.Path]: it creates the directory if
// missing (and logs a warning if an existing one is writable by others),
// removes a stale socket left by an earlier run (only a socket nobody
// listens on; any other file at Path is an error), listens, and makes the
// socket 0666: access is decided by the peer's credentials on each
// connection, so that a refusal can say, and log, who tried.
func (s *Server) Listen() error {
	switch {
	case s.ln != nil:
		return fmt.Errorf("listen on control socket %s: already listening", s.Path)
	case s.Path == "":
		return errors.New("listen on control socket: Server.Path is empty")
	case len(s.Path) > maxSocketPath:
		return fmt.Errorf("listen on control socket %s: the path is %d bytes; a unix socket's is at most %d", s.Path, len(s.Path), maxSocketPath)
	case s.GID < -1 || int64(s.GID) >= math.MaxUint32:
		return fmt.Errorf("listen on control socket %s: Server.GID %d: want a group id, or -1 for root only", s.Path, s.GID)
	}
	dir := filepath.Dir(s.Path)
	switch fi, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create control socket directory: %w", err)
		}
		// 0755 whatever the umask: others must reach the socket.
		if err := os.Chmod(dir, 0o755); err != nil {
			return fmt.Errorf("create control socket directory: %w", err)
		}
	case err != nil:
		return fmt.Errorf("control socket directory: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("control socket directory %s: not a directory", dir)
	case fi.Mode()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 && s.Logf != nil:
		s.Logf("control: warning: %s is writable by others than its owner (mode %v): they could replace the socket", dir, fi.Mode().Perm())
	}
	if err := removeStale(s.Path); err != nil {
		return err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.Path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("listen on control socket: %w", err)
	}
	if err := os.Chmod(s.Path, 0o666); err != nil {
		ln.Close()
		return fmt.Errorf("make control socket usable by all: %w", err)
	}
	if s.PriorityPath != "" {
		// Without it everyone still has the control socket: a warning.
		if pln, err := s.listenPriority(); err != nil && s.Logf != nil {
			s.Logf("control: %v; root and the group use %s only, where a flood of other users' connections can delay them", err, s.Path)
		} else if err == nil {
			s.pln = pln
		}
	}
	s.ln = ln
	return nil
}

// listenPriority creates the priority socket: root and group GID only.
func (s *Server) listenPriority() (*net.UnixListener, error) {
	path := s.PriorityPath
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("listen on priority socket %s: the path is %d bytes; a unix socket's is at most %d", path, len(path), maxSocketPath)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on priority socket: %w", err)
	}
	mode := os.FileMode(0o600)
	if s.GID >= 0 {
		mode = 0o660
		err = os.Chown(path, -1, s.GID)
	}
	if err == nil {
		err = os.Chmod(path, mode)
	}
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("priority socket %s: %w", path, err)
	}
	return ln, nil
}

// removeStale removes the socket at path if nobody listens on it, and
// refuses to touch anything else.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check for an old control socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("control socket %s: a %s is in the way; refusing to remove it (move it away, or set another socket path)", path, fileKind(fi.Mode()))
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: a process listens on it (is another ramwiped running?)", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("check whether the old control socket %s is stale: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale control socket: %w", err)
	}
	return nil
}

// fileKind names the type of a file for an error message.
func fileKind(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "regular file"
	case fs.ModeDir:
		return "directory"
	case fs.ModeSymlink:
		return "symbolic link"
	case fs.ModeNamedPipe:
		return "named pipe"
	case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
		return "device"
	}
	return "file of mode " + m.String()
}

// Serve accepts connections until ctx is done, serving each on its own
// goroutine: it reads the peer's credentials, refuses peers who are not
// allowed, reads one request line within [Server.ReadTimeout], calls
// [Server.Handler] and writes the reply. Once ctx is done Serve closes the
// listener (which removes the socket file), cuts off connections still
// reading their request, and returns nil when every connection goroutine has
// returned: a Handler should return when its context is cancelled.
// Serve returns an error without serving if [Server.Listen] did not
// succeed first or [Server.Handler] is nil, and if accepting fails for
// good.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		return errors.New("serve control socket: Server.Listen was not called, or failed")
	}
	ln := s.ln
	defer ln.Close()
	if s.Handler == nil {
		return fmt.Errorf("serve control socket %s: Server.Handler is nil", s.Path)
	}
	maxConns := s.MaxConns
	if maxConns <= 0 {
		maxConns = defaultMaxConns
	}
	sv := &serving{
		handler:       s.Handler,
		logf:          s.Logf,
		peer:          s.peer,
		gid:           s.GID,
		group:         s.Group,
		readTimeout:   s.ReadTimeout,
		maxConns:      maxConns,
		allowed:       make(chan struct{}, maxConns),
		refused:       make(chan struct{}, maxConns),
		count:         &s.refused,
		strangerEvery: cmp.Or(s.strangerEvery, defaultStrangerEvery),
		sleep:         s.sleep,
	}
	if sv.sleep == nil {
		sv.sleep = sleepCtx
	}
	if sv.logf == nil {
		sv.logf = func(string, ...any) {}
	}
	sv.limited = &limiter{sink: sv.logf, window: refusalLogWindow, burst: refusalLogBurst, now: time.Now}
	if sv.peer == nil {
		sv.peer = peerCredentials
	}
	if sv.readTimeout <= 0 {
		sv.readTimeout = defaultReadTimeout
	}
	defer sv.wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	if pln := s.pln; pln != nil {
		defer pln.Close() // before the Wait: its accept loop ends then
		stopPriority := context.AfterFunc(ctx, func() { pln.Close() })
		defer stopPriority()
		sv.wg.Go(func() {
			if err := sv.accept(ctx, pln, s.PriorityPath); err != nil {
				sv.logf("control: %v; the priority socket is closed, the control socket still serves", err)
			}
		})
	}
	return sv.accept(ctx, ln, s.Path)
}

// pacer spaces events one per every on average, after a burst of burst:
// the generic cell rate algorithm, for the one goroutine of an accept loop.
type pacer struct {
	every time.Duration
	burst int
	now   func() time.Time
	sleep func(context.Context, time.Duration)
	tat   time.Time // theoretical arrival time of the next event
}

// wait returns when one more event fits the pace, or when ctx is done.
func (p *pacer) wait(ctx context.Context) {
	now := p.now()
	if earliest := now.Add(-time.Duration(p.burst) * p.every); p.tat.Before(earliest) {
		p.tat = earliest
	}
	p.tat = p.tat.Add(p.every)
	if d := p.tat.Sub(now); d > 0 {
		p.sleep(ctx, d)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// accept accepts connections on ln and dispatches them until ctx is done
// (nil) or accepting fails for good.
func (sv *serving) accept(ctx context.Context, ln *net.UnixListener, path string) error {
	var delay time.Duration
	pace := &pacer{every: sv.strangerEvery, burst: strangerBurst, now: time.Now, sleep: sv.sleep}
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accept on control socket %s: %w", path, err)
			}
			// Out of file descriptors or memory, most likely: wait, as
			// net/http does, rather than spin or give up.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			sv.logf("control: accept on %s: %v; retrying in %v", path, err, delay)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		if !sv.dispatch(ctx, c) {
			pace.wait(ctx)
		}
	}
}

// serving is the state of one [Server.Serve].
type serving struct {
	handler     Handler
	logf        func(string, ...any)
	peer        func(*net.UnixConn) (Peer, error)
	gid         int
	group       string
	readTimeout time.Duration
	maxConns    int
	// allowed and refused are semaphores: a slot per connection being
	// served, from authorized and from other peers.
	allowed, refused chan struct{}
	wg               sync.WaitGroup
	warnedGroups     atomic.Bool
	// strangerEvery paces the refusals of each accept loop ([pacer]),
	// which waits with sleep.
	strangerEvery time.Duration
	sleep         func(context.Context, time.Duration)
	// count is [Server.refused]; limited logs refusals and bad requests.
	count   *atomic.Uint64
	limited *limiter
}

// dispatch decides, from c's credentials, whether c may have a slot, and
// serves it on a new goroutine if so. It waits on no peer for longer than
// refuseTimeout. It reports whether the peer may use the socket.
func (sv *serving) dispatch(ctx context.Context, c *net.UnixConn) bool {
	p, err := sv.peer(c)
	if err != nil && !errors.Is(err, errNoPeerGroups) {
		sv.count.Add(1)
		sv.limited.logf("control: refused a connection: %v", err)
		sv.refuse(c, "cannot read your credentials: "+err.Error())
		return false
	}
	if err != nil && !sv.warnedGroups.Swap(true) {
		sv.logf("control: %v; only a peer's primary group counts", err)
	}
	ok := sv.authorized(p)
	sem := sv.allowed
	if !ok {
		sem = sv.refused
	}
	select {
	case sem <- struct{}{}:
	default:
		// Refused in the accept loop itself: one write to an empty socket
		// buffer and a close, so that the next connection (perhaps root's
		// panic) waits for nothing; the log line is rate-limited.
		sv.count.Add(1)
		if ok {
			sv.limited.logf("control: busy: refused %s: already serving %d connections", who(p), sv.maxConns)
			sv.refuse(c, fmt.Sprintf("%s ramwiped is already serving %d connections; try again", busyPrefix, sv.maxConns))
		} else {
			sv.limited.logf("control: refused %s: not authorized (request not read: %d other refused connections open)", who(p), sv.maxConns)
			sv.refuse(c, sv.notAuthorized(p))
		}
		return ok
	}
	sv.wg.Go(func() {
		defer func() { <-sem }()
		sv.serve(ctx, c, p, ok)
	})
	return ok
}

// authorized reports whether p may use the socket.
func (sv *serving) authorized(p Peer) bool {
	if p.UID == 0 {
		return true
	}
	if sv.gid < 0 {
		return false
	}
	g := uint32(sv.gid)
	return p.GID == g || slices.Contains(p.Groups, g)
}

func (sv *serving) notAuthorized(p Peer) string {
	if sv.gid < 0 {
		return fmt.Sprintf("%s uid %d is not root, and ramwiped lets only root use it", notAuthorizedPrefix, p.UID)
	}
	group := sv.group
	if group == "" {
		group = strconv.Itoa(sv.gid)
	}
	return fmt.Sprintf("%s uid %d is not root and not in group %s, which may use ramwipe: an admin adds you with `sudo adduser YOUR-USER %s`, then log out and in again", notAuthorizedPrefix, p.UID, group, group)
}

// refuse answers c with an ERR line without reading, and closes it.
func (sv *serving) refuse(c *net.UnixConn, text string) {
	c.SetWriteDeadline(time.Now().Add(refuseTimeout))
	c.Write(Reply{Text: text}.Marshal())
	c.Close()
}

// serve serves connection c from peer p, who is authorized or not.
func (sv *serving) serve(ctx context.Context, c *net.UnixConn, p Peer, authorized bool) {
	defer c.Close()
	// At shutdown, stop waiting for the request; a reply has its own
	// deadline (writeTimeout).
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()

	c.SetReadDeadline(time.Now().Add(sv.readTimeout))
	r, err := sv.readRequest(ctx, c)
	if !authorized {
		cmd := "(none)"
		if err == nil {
			cmd = strconv.Quote(r.String())
		} else if !errors.Is(err, errNoRequest) {
			cmd = "(invalid: " + err.Error() + ")"
		}
		sv.count.Add(1)
		sv.limited.logf("control: refused %s command=%s: not authorized", who(p), cmd)
		sv.reply(c, Reply{Text: sv.notAuthorized(p)}, false)
		return
	}
	if errors.Is(err, errNoRequest) {
		return
	}
	if err != nil {
		sv.limited.logf("control: bad request from %s: %v", who(p), err)
		sv.reply(c, Reply{Text: err.Error()}, false)
		return
	}
	// The request's context ends when the peer hangs up: a handler that
	// waits (a rehearsal) must not outlive the client that asked.
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.SetReadDeadline(time.Time{})
	go func() {
		var b [1]byte
		c.Read(b[:]) // EOF when the peer is gone; an error once c is closed
		cancel()
	}()
	// The handler first, and nothing about a panic at all: a log line may
	// go to a journal on a disk that the panic is taking away.
	text, err := sv.handler(hctx, p, r)
	if r.Command != CommandStatus && r.Command != CommandPanic {
		sv.logf("control: %s from %s", r, who(p))
	}
	gone := hctx.Err() != nil && ctx.Err() == nil
	if err != nil {
		if r.Command != CommandPanic {
			sv.logf("control: %s from %s failed: %v", r, who(p), err)
		}
		sv.reply(c, Reply{Text: err.Error()}, gone)
		return
	}
	sv.reply(c, Reply{OK: true, Text: text}, gone)
}

// readRequest reads and parses one request line from c. Its errors are
// meant for the client, except errNoRequest.
func (sv *serving) readRequest(ctx context.Context, c *net.UnixConn) (Request, error) {
	line, err := readLine(&graceReader{c: c}, MaxRequestLen)
	switch {
	case err == nil:
		return ParseRequest(line)
	case errors.Is(err, errLineTooLong):
		return Request{}, errRequestTooLong
	case ctx.Err() != nil, errors.Is(err, io.EOF):
		return Request{}, errNoRequest
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Request{}, errNoNewline
	case errors.Is(err, os.ErrDeadlineExceeded):
		return Request{}, fmt.Errorf("no complete request line within %v: send one line %s", sv.readTimeout, usage)
	}
	return Request{}, fmt.Errorf("read request: %w", err)
}

// lateGrace is how long a connection whose read deadline passed before
// its goroutine read at all gets to deliver what is already there.
const lateGrace = 100 * time.Millisecond

// graceReader reads from c, and once gives a read that failed on the
// deadline a second try: Go's poller reports an expired deadline without
// trying the read, so a request that arrived in time, on a connection
// whose goroutine ran late (a loaded machine; a kexec_file_load keeping
// the only CPU busy for seconds, measured under QEMU), would be refused
// for the daemon's own slowness. A client that really sent nothing still
// times out, lateGrace later.
type graceReader struct {
	c    *net.UnixConn
	used bool
}

func (g *graceReader) Read(p []byte) (int, error) {
	n, err := g.c.Read(p)
	if n == 0 && !g.used && errors.Is(err, os.ErrDeadlineExceeded) {
		g.used = true
		g.c.SetReadDeadline(time.Now().Add(lateGrace))
		return g.c.Read(p)
	}
	return n, err
}

// reply writes r to c, within writeTimeout. When the peer is known to be
// gone a failed write is not worth a log line.
func (sv *serving) reply(c *net.UnixConn, r Reply, peerGone bool) {
	c.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := c.Write(r.Marshal()); err != nil && !peerGone {
		sv.limited.logf("control: write reply: %v", err)
	}
}

// limiter passes at most burst log lines per window; the first line after
// a window in which lines were left out says how many. It keeps no timer:
// at rest it costs nothing.
type limiter struct {
	sink   func(string, ...any)
	window time.Duration
	burst  int
	now    func() time.Time

	mu      sync.Mutex
	start   time.Time // of the current window
	n       int       // lines passed in it
	dropped int       // lines left out since the last line passed
}

func (l *limiter) logf(format string, args ...any) {
	l.mu.Lock()
	now := l.now()
	if now.Sub(l.start) >= l.window {
		l.start, l.n = now, 0
	}
	if l.n >= l.burst {
		l.dropped++
		l.mu.Unlock()
		return
	}
	l.n++
	dropped := l.dropped
	l.dropped = 0
	l.mu.Unlock()
	if dropped > 0 {
		l.sink("%s (and %d similar lines left out before it: these lines are rate-limited; ramwipe status counts refusals)", fmt.Sprintf(format, args...), dropped)
		return
	}
	l.sink(format, args...)
}

// who describes p for logs.
func who(p Peer) string {
	return fmt.Sprintf("uid=%d gid=%d pid=%d", p.UID, p.GID, p.PID)
}

// readLine reads from r until a newline and returns the line, newline
// included. It reads at most max bytes: past that it fails with
// errLineTooLong. At EOF it fails with io.EOF if it read nothing, else
// io.ErrUnexpectedEOF. Bytes after the newline are dropped: each side
// sends one line per connection.
func readLine(r io.Reader, max int) ([]byte, error) {
	buf := make([]byte, 0, min(max, 4096))
	for {
		if len(buf) == max {
			return buf, errLineTooLong
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(max, 2*cap(buf))-len(buf))
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), max)])
		if i := bytes.IndexByte(buf[len(buf):len(buf)+n], '\n'); i >= 0 {
			return buf[:len(buf)+i+1], nil
		}
		buf = buf[:len(buf)+n]
		switch {
		case err == nil:
		case errors.Is(err, io.EOF) && len(buf) == 0:
			return nil, io.EOF
		case errors.Is(err, io.EOF):
			return buf, io.ErrUnexpectedEOF
		default:
			return buf, err
		}
	}
}

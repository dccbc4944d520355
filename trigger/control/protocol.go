package control

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Version is the protocol version, the first word of every request.
const Version = "RAMWIPE/1"

// The commands a request may carry.
const (
	// CommandStatus asks for the daemon's state; it takes no argument.
	CommandStatus = "status"
	// CommandPanic asks the daemon to run the panic sequence; it takes no
	// argument.
	CommandPanic = "panic"
	// CommandTest names a trigger in [Request.Arg]; what testing it means is
	// up to the [Handler].
	CommandTest = "test"
	// CommandSleep is the systemd sleep hook's request, root's only: the
	// argument is the phase and the sleep type, "pre-suspend" or
	// "post-suspend" (see package trigger/suspend).
	CommandSleep = "sleep"
)

// Framing limits.
const (
	// MaxRequestLen bounds a request line, newline included.
	MaxRequestLen = 256
	// MaxArgLen bounds [Request.Arg].
	MaxArgLen = 32
	// MaxReplyText bounds a reply's text as sent, that is after escaping;
	// [Reply.Marshal] truncates longer text.
	MaxReplyText = 64 << 10

	// maxReplyLen bounds a whole reply line.
	maxReplyLen = len("ERR ") + MaxReplyText + len("\n")
)

// usage is how a request looks, for error messages.
const usage = `"` + Version + ` <command>[ <arg>]"`

// sentPrefix starts the optional word of a panic request that carries
// [Request.Sent]: "RAMWIPE/1 panic sent-<nanoseconds>".
const sentPrefix = "sent-"

// truncated ends a reply text that [Reply.Marshal] had to cut.
const truncated = " [truncated]"

// Request is one request: a command and, for [CommandTest], its argument.
type Request struct {
	Command string
	Arg     string
	// Sent, on a panic request only, is the client's CLOCK_MONOTONIC
	// reading when it began to send ([MonotonicNow]); 0 when not given.
	// The daemon may say, once the keys are erased, how long the request
	// took to reach it; nothing else depends on it, and a daemon older
	// than this field refuses it (a client then sends the plain panic).
	Sent time.Duration
}

// Reply is the daemon's answer to one [Request]: OK and a text, or not OK
// and an error message.
type Reply struct {
	OK   bool
	Text string
}

// ParseRequest parses one request line, "RAMWIPE/1 <command>[ <arg>]\n":
// words separated by single spaces, the newline required, at most
// [MaxRequestLen] bytes in all. It is strict, so that one request has one
// encoding: ParseRequest(b) succeeds only if b is [Request.Marshal] of the
// result. Its errors are meant for the client and name what to send instead.
func ParseRequest(b []byte) (Request, error) {
	switch i := bytes.IndexByte(b, '\n'); {
	case len(b) > MaxRequestLen:
		return Request{}, errRequestTooLong
	case len(b) == 0:
		return Request{}, fmt.Errorf("empty request: send one line %s", usage)
	case i < 0:
		return Request{}, errNoNewline
	case i != len(b)-1:
		return Request{}, errors.New("more than one line: send one request per connection")
	}
	words := strings.Split(string(b[:len(b)-1]), " ")
	switch v := words[0]; {
	case v == Version:
	case isVersion(v):
		return Request{}, fmt.Errorf("unsupported protocol %s: this daemon speaks %s", quote(v), Version)
	case strings.HasPrefix(v, Version):
		return Request{}, fmt.Errorf("%s must be followed by one space, got %s", Version, quote(v))
	default:
		return Request{}, fmt.Errorf("not a ramwipe request: it starts with %s; send one line %s", quote(v), usage)
	}
	for _, w := range words[1:] {
		if w == "" {
			return Request{}, errors.New("empty word: separate the words with exactly one space")
		}
	}
	var r Request
	switch len(words) {
	case 1:
		return Request{}, errors.New("missing command: want status, panic or test")
	case 2:
		r.Command = words[1]
	case 3:
		r.Command, r.Arg = words[1], words[2]
		if r.Command == CommandPanic {
			sent, err := parseSent(r.Arg)
			if err != nil {
				return Request{}, err
			}
			r.Arg, r.Sent = "", sent
		}
	default:
		return Request{}, fmt.Errorf("%d words: send one line %s", len(words), usage)
	}
	if err := r.Validate(); err != nil {
		return Request{}, err
	}
	return r, nil
}

// Validate reports whether r is a request the protocol can carry: a known
// command, and an argument exactly when the command takes one.
func (r Request) Validate() error {
	if r.Sent < 0 || r.Sent > 0 && r.Command != CommandPanic {
		return fmt.Errorf("a send time (%d) is only for a panic request, and never negative", r.Sent)
	}
	switch r.Command {
	case CommandStatus, CommandPanic:
		if r.Arg != "" {
			return fmt.Errorf("%s takes no argument, got %s", r.Command, quote(r.Arg))
		}
	case CommandTest:
		if r.Arg == "" {
			return errors.New(`test needs a trigger name, e.g. "` + Version + ` test hotkey"`)
		}
		if !validArg(r.Arg) {
			return fmt.Errorf("invalid trigger name %s: use at most %d lowercase letters, digits and '-'", quote(r.Arg), MaxArgLen)
		}
	case CommandSleep:
		if !validArg(r.Arg) {
			return fmt.Errorf("sleep needs the phase and sleep type, e.g. %q", Version+" sleep pre-suspend")
		}
	default:
		return fmt.Errorf("unknown command %s: want status, panic or test", quote(r.Command))
	}
	return nil
}

// parseSent parses the word "sent-<nanoseconds>" of a panic request: a
// positive decimal without leading zeros, so that it has one encoding.
func parseSent(w string) (time.Duration, error) {
	digits, ok := strings.CutPrefix(w, sentPrefix)
	if !ok || digits == "" || digits[0] == '0' || strings.Trim(digits, "0123456789") != "" {
		return 0, fmt.Errorf("panic takes no argument but %s<nanoseconds>, got %s", sentPrefix, quote(w))
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("panic: send time %s out of range", quote(digits))
	}
	return time.Duration(n), nil
}

// isVersion reports whether s looks like a protocol version: "RAMWIPE/"
// and digits and dots.
func isVersion(s string) bool {
	n, ok := strings.CutPrefix(s, "RAMWIPE/")
	return ok && n != "" && strings.Trim(n, "0123456789.") == ""
}

// validArg reports whether s is 1 to [MaxArgLen] bytes of [a-z0-9-].
func validArg(s string) bool {
	if s == "" || len(s) > MaxArgLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// Marshal returns r as a request line. It does not validate r: call
// [Request.Validate] first ([Do] does).
func (r Request) Marshal() []byte {
	s := Version + " " + r.Command
	if r.Arg != "" {
		s += " " + r.Arg
	}
	if r.Sent > 0 {
		s += " " + sentPrefix + strconv.FormatInt(int64(r.Sent), 10)
	}
	return []byte(s + "\n")
}

// String returns the command and argument, for logs: "test hotkey".
func (r Request) String() string {
	if r.Arg == "" {
		return r.Command
	}
	return r.Command + " " + r.Arg
}

// ParseReply parses one reply line, "OK[ <text>]\n" or "ERR[ <text>]\n",
// unescaping the text (see [Reply.Marshal]). Like [ParseRequest] it is
// strict: it succeeds only on what [Reply.Marshal] produces.
func ParseReply(b []byte) (Reply, error) {
	switch i := bytes.IndexByte(b, '\n'); {
	case len(b) > maxReplyLen:
		return Reply{}, fmt.Errorf("reply longer than %d bytes", maxReplyLen)
	case len(b) == 0:
		return Reply{}, errors.New("empty reply")
	case i < 0:
		return Reply{}, errors.New("reply does not end with a newline")
	case i != len(b)-1:
		return Reply{}, errors.New("reply has more than one line")
	}
	line := b[:len(b)-1]
	var r Reply
	var text []byte
	switch {
	case string(line) == "OK":
		return Reply{OK: true}, nil
	case string(line) == "ERR":
		return Reply{}, nil
	case bytes.HasPrefix(line, []byte("OK ")):
		r.OK, text = true, line[len("OK "):]
	case bytes.HasPrefix(line, []byte("ERR ")):
		text = line[len("ERR "):]
	default:
		return Reply{}, fmt.Errorf(`not a %s reply: want "OK <text>" or "ERR <text>", got %s`, Version, quote(string(line)))
	}
	switch {
	case len(text) == 0:
		return Reply{}, errors.New("reply has a space but no text")
	case len(text) > MaxReplyText:
		return Reply{}, fmt.Errorf("reply text longer than %d bytes", MaxReplyText)
	}
	t, err := unescape(text)
	if err != nil {
		return Reply{}, fmt.Errorf("reply text: %w", err)
	}
	r.Text = t
	return r, nil
}

// Marshal returns r as a reply line. The text is escaped so that it stays
// on one line: backslash as \\, newline, carriage return and tab as \n, \r
// and \t, other control bytes (below 0x20, and 0x7f) as \xHH; other bytes,
// UTF-8 or not, are sent as they are. Text longer than [MaxReplyText] once
// escaped is cut at a character boundary and ends in " [truncated]".
func (r Reply) Marshal() []byte {
	word := "ERR"
	if r.OK {
		word = "OK"
	}
	if r.Text == "" {
		return []byte(word + "\n")
	}
	b := make([]byte, 0, len(word)+1+min(len(r.Text)+8, MaxReplyText)+1)
	b = append(b, word...)
	b = append(b, ' ')
	start := len(b)
	cut := start // where to cut: the last character boundary with room for the mark
	for i := 0; i < len(r.Text); {
		if len(b)-start+len(truncated) <= MaxReplyText {
			cut = len(b)
		}
		_, size := utf8.DecodeRuneInString(r.Text[i:])
		for _, c := range []byte(r.Text[i : i+size]) {
			b = appendEscaped(b, c)
		}
		i += size
		if len(b)-start > MaxReplyText {
			b = append(b[:cut], truncated...)
			break
		}
	}
	return append(b, '\n')
}

// RehearsalWindow is how long a daemon waits for the trigger named in a
// [CommandTest] request, at most; a client waits as long, and a little
// more for the reply.
const RehearsalWindow = 30 * time.Second

// DryRunPrefix starts the OK reply to a panic request that a daemon in a
// dry run answers; [Reply.DryRun] looks for it.
const DryRunPrefix = "dry run:"

// DryRun reports whether r is a dry-run daemon's answer to a panic
// request: OK, but nothing was wiped.
func (r Reply) DryRun() bool {
	return r.OK && strings.HasPrefix(r.Text, DryRunPrefix)
}

// Busy reports whether r is the refusal a [Server] sends when it is already
// serving [Server.MaxConns] connections; the request was not read, and may
// be sent again.
func (r Reply) Busy() bool {
	return !r.OK && strings.HasPrefix(r.Text, busyPrefix)
}

// NotAuthorized reports whether r is the refusal a [Server] sends to a
// peer that is neither root nor in [Server.GID]; its text says how to get
// in.
func (r Reply) NotAuthorized() bool {
	return !r.OK && strings.HasPrefix(r.Text, notAuthorizedPrefix)
}

const hexDigits = "0123456789abcdef"

// appendEscaped appends c to b, escaped as [Reply.Marshal] says.
func appendEscaped(b []byte, c byte) []byte {
	switch c {
	case '\\':
		return append(b, '\\', '\\')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	if isControl(c) {
		return append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(b, c)
}

// isControl reports whether c is an ASCII control byte.
func isControl(c byte) bool { return c < 0x20 || c == 0x7f }

// unescape undoes [appendEscaped], and accepts only what it produces.
func unescape(t []byte) (string, error) {
	var b strings.Builder
	b.Grow(len(t))
	for i := 0; i < len(t); i++ {
		c := t[i]
		if isControl(c) {
			return "", fmt.Errorf("raw control byte 0x%02x at offset %d", c, i)
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(t) {
			return "", errors.New("backslash at the end")
		}
		i++
		switch t[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'x':
			if i+2 >= len(t) {
				return "", fmt.Errorf(`short \x escape at offset %d`, i-1)
			}
			hi := strings.IndexByte(hexDigits, t[i+1])
			lo := strings.IndexByte(hexDigits, t[i+2])
			if hi < 0 || lo < 0 {
				return "", fmt.Errorf(`bad \x escape %q at offset %d: want two lowercase hex digits`, t[i-1:i+3], i-1)
			}
			v := byte(hi<<4 | lo)
			if !isControl(v) || v == '\n' || v == '\r' || v == '\t' {
				return "", fmt.Errorf(`needless \x escape %q at offset %d`, t[i-1:i+3], i-1)
			}
			b.WriteByte(v)
			i += 2
		default:
			return "", fmt.Errorf(`unknown escape %q at offset %d`, t[i-1:i+1], i-1)
		}
	}
	return b.String(), nil
}

// quote quotes s for an error message, cut to 40 bytes.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

var (
	errRequestTooLong = fmt.Errorf("request longer than %d bytes: send one line %s", MaxRequestLen, usage)
	errNoNewline      = errors.New("request does not end with a newline")
)

package control

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Request
		wantErr string
	}{
		{name: "status", in: "RAMWIPE/1 status\n", want: Request{Command: "status"}},
		{name: "panic", in: "RAMWIPE/1 panic\n", want: Request{Command: "panic"}},
		{name: "panic with its send time", in: "RAMWIPE/1 panic sent-21472638150737\n", want: Request{Command: "panic", Sent: 21472638150737}},
		{name: "panic, largest send time", in: "RAMWIPE/1 panic sent-9223372036854775807\n", want: Request{Command: "panic", Sent: 1<<63 - 1}},
		{name: "test hotkey", in: "RAMWIPE/1 test hotkey\n", want: Request{Command: "test", Arg: "hotkey"}},
		{name: "test longest arg", in: "RAMWIPE/1 test " + strings.Repeat("a-9", 10) + "zz\n", want: Request{Command: "test", Arg: strings.Repeat("a-9", 10) + "zz"}},

		{name: "empty", in: "", wantErr: "empty request"},
		{name: "no newline", in: "RAMWIPE/1 status", wantErr: "does not end with a newline"},
		{name: "two lines", in: "RAMWIPE/1 status\nRAMWIPE/1 panic\n", wantErr: "more than one line"},
		{name: "crlf", in: "RAMWIPE/1 status\r\n", wantErr: `unknown command "status\r"`},
		{name: "version 2", in: "RAMWIPE/2 status\n", wantErr: `unsupported protocol "RAMWIPE/2": this daemon speaks RAMWIPE/1`},
		{name: "lower case version", in: "ramwipe/1 status\n", wantErr: `not a ramwipe request: it starts with "ramwipe/1"`},
		{name: "http", in: "GET / HTTP/1.1\n", wantErr: `not a ramwipe request: it starts with "GET"`},
		{name: "long first word quoted short", in: strings.Repeat("x", 100) + "\n", wantErr: `"` + strings.Repeat("x", 40) + `"…`},
		{name: "version only", in: "RAMWIPE/1\n", wantErr: "missing command"},
		{name: "two spaces", in: "RAMWIPE/1  status\n", wantErr: "exactly one space"},
		{name: "trailing space", in: "RAMWIPE/1 status \n", wantErr: "exactly one space"},
		{name: "tab", in: "RAMWIPE/1\tstatus\n", wantErr: `RAMWIPE/1 must be followed by one space, got "RAMWIPE/1\tstatus"`},
		{name: "version 10", in: "RAMWIPE/10 status\n", wantErr: `unsupported protocol "RAMWIPE/10"`},
		{name: "version 1.1", in: "RAMWIPE/1.1 status\n", wantErr: `unsupported protocol "RAMWIPE/1.1"`},
		{name: "version missing", in: "RAMWIPE/ status\n", wantErr: "not a ramwipe request"},
		{name: "four words", in: "RAMWIPE/1 test hotkey now\n", wantErr: "4 words"},
		{name: "unknown command", in: "RAMWIPE/1 wipe\n", wantErr: `unknown command "wipe": want status, panic or test`},
		{name: "upper case command", in: "RAMWIPE/1 PANIC\n", wantErr: `unknown command "PANIC"`},
		{name: "status with arg", in: "RAMWIPE/1 status now\n", wantErr: `status takes no argument, got "now"`},
		{name: "panic with arg", in: "RAMWIPE/1 panic now\n", wantErr: "panic takes no argument but sent-<nanoseconds>"},
		{name: "panic sent zero", in: "RAMWIPE/1 panic sent-0\n", wantErr: "panic takes no argument but"},
		{name: "panic sent leading zero", in: "RAMWIPE/1 panic sent-012\n", wantErr: "panic takes no argument but"},
		{name: "panic sent negative", in: "RAMWIPE/1 panic sent--5\n", wantErr: "panic takes no argument but"},
		{name: "panic sent empty", in: "RAMWIPE/1 panic sent-\n", wantErr: "panic takes no argument but"},
		{name: "panic sent hex", in: "RAMWIPE/1 panic sent-1f\n", wantErr: "panic takes no argument but"},
		{name: "panic sent beyond int64", in: "RAMWIPE/1 panic sent-9223372036854775808\n", wantErr: `send time "9223372036854775808" out of range`},
		{name: "status sent", in: "RAMWIPE/1 status sent-5\n", wantErr: `status takes no argument, got "sent-5"`},
		{name: "test without arg", in: "RAMWIPE/1 test\n", wantErr: "test needs a trigger name"},
		{name: "test upper case arg", in: "RAMWIPE/1 test HotKey\n", wantErr: `invalid trigger name "HotKey"`},
		{name: "test arg with slash", in: "RAMWIPE/1 test ../etc\n", wantErr: "invalid trigger name"},
		{name: "test arg too long", in: "RAMWIPE/1 test " + strings.Repeat("a", 33) + "\n", wantErr: "at most 32 lowercase letters"},
		{name: "nul byte", in: "RAMWIPE/1 status\x00\n", wantErr: `unknown command "status\x00"`},
		{name: "256 bytes", in: "RAMWIPE/1 " + strings.Repeat("x", 245) + "\n", wantErr: "unknown command"},
		{name: "257 bytes", in: "RAMWIPE/1 " + strings.Repeat("x", 246) + "\n", wantErr: "request longer than 256 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest([]byte(tt.in))
			if tt.wantErr != "" {
				require.Error(t, err, "ParseRequest(%q) = %+v, want error", tt.in, got)
				assert.Contains(t, err.Error(), tt.wantErr, "ParseRequest(%q)", tt.in)
				assert.NotContains(t, err.Error(), "\n", "ParseRequest(%q): error must fit on a reply line", tt.in)
				return
			}
			require.NoError(t, err, "ParseRequest(%q)", tt.in)
			assert.Equal(t, tt.want, got, "ParseRequest(%q) = %+v, want %+v", tt.in, got, tt.want)
			assert.Equal(t, tt.in, string(got.Marshal()), "%+v.Marshal()", got)
		})
	}
}

func TestRequestValidate(t *testing.T) {
	tests := []struct {
		name    string
		in      Request
		wantErr string
	}{
		{name: "status", in: Request{Command: CommandStatus}},
		{name: "test cli", in: Request{Command: CommandTest, Arg: "cli"}},
		{name: "test bootmedium", in: Request{Command: CommandTest, Arg: "bootmedium"}},
		{name: "empty", in: Request{}, wantErr: `unknown command ""`},
		{name: "command with space", in: Request{Command: "status panic"}, wantErr: "unknown command"},
		{name: "arg with newline", in: Request{Command: CommandTest, Arg: "a\nRAMWIPE/1 panic"}, wantErr: "invalid trigger name"},
		{name: "sleep", in: Request{Command: CommandSleep, Arg: "post-suspend-then-hibernate"}},
		{name: "panic sent", in: Request{Command: CommandPanic, Sent: 1}},
		{name: "panic sent negative", in: Request{Command: CommandPanic, Sent: -1}, wantErr: "never negative"},
		{name: "test sent", in: Request{Command: CommandTest, Arg: "cli", Sent: 1}, wantErr: "only for a panic request"},
		{name: "sleep without arg", in: Request{Command: CommandSleep}, wantErr: "sleep needs the phase"},
		{name: "sleep with space", in: Request{Command: CommandSleep, Arg: "pre suspend"}, wantErr: "sleep needs the phase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err, "%+v.Validate()", tt.in)
				return
			}
			require.ErrorContains(t, err, tt.wantErr, "%+v.Validate()", tt.in)
		})
	}
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Reply
		wantErr string
	}{
		{name: "ok", in: "OK armed\n", want: Reply{OK: true, Text: "armed"}},
		{name: "ok empty", in: "OK\n", want: Reply{OK: true}},
		{name: "err", in: "ERR busy: try again\n", want: Reply{Text: "busy: try again"}},
		{name: "err empty", in: "ERR\n", want: Reply{}},
		{name: "escapes", in: `OK a\nb\\c\td\re\x00f\x1bg\x7f` + "\n", want: Reply{OK: true, Text: "a\nb\\c\td\re\x00f\x1bg\x7f"}},
		{name: "utf-8 and spaces", in: "OK  état: prêt \n", want: Reply{OK: true, Text: " état: prêt "}},
		{name: "invalid utf-8 passes", in: "OK \xff\xfe\n", want: Reply{OK: true, Text: "\xff\xfe"}},

		{name: "empty", in: "", wantErr: "empty reply"},
		{name: "no newline", in: "OK armed", wantErr: "does not end with a newline"},
		{name: "two lines", in: "OK a\nOK b\n", wantErr: "more than one line"},
		{name: "space no text", in: "OK \n", wantErr: "space but no text"},
		{name: "lower case", in: "ok armed\n", wantErr: `want "OK <text>" or "ERR <text>", got "ok armed"`},
		{name: "OKAY", in: "OKAY\n", wantErr: "not a RAMWIPE/1 reply"},
		{name: "raw tab", in: "OK a\tb\n", wantErr: "raw control byte 0x09 at offset 1"},
		{name: "raw cr", in: "OK a\r\n", wantErr: "raw control byte 0x0d"},
		{name: "trailing backslash", in: "OK a\\\n", wantErr: "backslash at the end"},
		{name: "unknown escape", in: `OK \q` + "\n", wantErr: `unknown escape "\\q"`},
		{name: "short hex", in: `OK \x1` + "\n", wantErr: `short \x escape`},
		{name: "upper hex", in: `OK \x1B` + "\n", wantErr: "two lowercase hex digits"},
		{name: "needless hex", in: `OK \x41` + "\n", wantErr: `needless \x escape "\\x41"`},
		{name: "hex newline", in: `OK \x0a` + "\n", wantErr: "needless"},
		{name: "text too long", in: "OK " + strings.Repeat("a", MaxReplyText+1) + "\n", wantErr: "reply text longer than 65536 bytes"},
		{name: "too long", in: "ERR " + strings.Repeat("a", MaxReplyText+1) + "\n", wantErr: "reply longer than 65541 bytes"},
		{name: "longest", in: "ERR " + strings.Repeat("a", MaxReplyText) + "\n", want: Reply{Text: strings.Repeat("a", MaxReplyText)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReply([]byte(tt.in))
			if tt.wantErr != "" {
				require.Error(t, err, "ParseReply(%q) = %+v, want error", tt.in, got)
				assert.Contains(t, err.Error(), tt.wantErr, "ParseReply(%q)", tt.in)
				return
			}
			require.NoError(t, err, "ParseReply(%q)", tt.in)
			assert.Equal(t, tt.want, got, "ParseReply(%q) = %+v, want %+v", tt.in, got, tt.want)
			assert.Equal(t, tt.in, string(got.Marshal()), "%+v.Marshal()", got)
		})
	}
}

func TestReplyMarshal(t *testing.T) {
	long := strings.Repeat("é", MaxReplyText) // 2 bytes each
	tests := []struct {
		name string
		in   Reply
		want string
	}{
		{name: "ok", in: Reply{OK: true, Text: "armed"}, want: "OK armed\n"},
		{name: "ok empty", in: Reply{OK: true}, want: "OK\n"},
		{name: "err empty", in: Reply{}, want: "ERR\n"},
		{name: "multi-line error", in: Reply{Text: "step 1 failed\nstep 2 failed\n"}, want: `ERR step 1 failed\nstep 2 failed\n` + "\n"},
		{name: "terminal escape", in: Reply{OK: true, Text: "\x1b[31mred"}, want: `OK \x1b[31mred` + "\n"},
		{name: "backslash", in: Reply{OK: true, Text: `C:\`}, want: `OK C:\\` + "\n"},
		{name: "exactly the limit", in: Reply{OK: true, Text: strings.Repeat("a", MaxReplyText)}, want: "OK " + strings.Repeat("a", MaxReplyText) + "\n"},
		{name: "escapes count", in: Reply{OK: true, Text: strings.Repeat("\n", MaxReplyText/2+1)},
			want: "OK " + strings.Repeat(`\n`, (MaxReplyText-len(truncated))/2) + truncated + "\n"},
		{name: "cut between characters", in: Reply{Text: "x" + long},
			want: "ERR " + ("x" + long)[:MaxReplyText-len(truncated)-1] + truncated + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.Marshal()
			require.Equal(t, tt.want, string(got), "%+v.Marshal()", tt.in)
			require.LessOrEqual(t, len(got), maxReplyLen)
			back, err := ParseReply(got)
			require.NoError(t, err, "ParseReply(%q)", got)
			assert.True(t, utf8.ValidString(back.Text) || !utf8.ValidString(tt.in.Text))
			assert.Equal(t, string(got), string(back.Marshal()), "marshal after parse")
		})
	}
}

func TestReplyBusy(t *testing.T) {
	assert.True(t, Reply{Text: busyPrefix + " serving 16"}.Busy())
	assert.False(t, Reply{OK: true, Text: busyPrefix}.Busy())
	assert.False(t, Reply{Text: "not authorized: busy"}.Busy())
}

func TestReplyNotAuthorized(t *testing.T) {
	assert.True(t, Reply{Text: notAuthorizedPrefix + " uid 1000 is not root"}.NotAuthorized())
	assert.False(t, Reply{OK: true, Text: notAuthorizedPrefix}.NotAuthorized())
	assert.False(t, Reply{Text: busyPrefix + " not authorized:"}.NotAuthorized())
}

// FuzzParseRequest checks that what ParseRequest accepts is exactly what
// Marshal produces, so that a request has one encoding.
func FuzzParseRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			if bytes.IndexByte([]byte(err.Error()), '\n') >= 0 {
				t.Fatalf("ParseRequest(%q) error %q has a newline", b, err)
			}
			return
		}
		m := r.Marshal()
		if !bytes.Equal(m, b) {
			t.Fatalf("ParseRequest(%q) = %+v, which marshals to %q", b, r, m)
		}
		again, err := ParseRequest(m)
		if err != nil || again != r {
			t.Fatalf("ParseRequest(%q) = %+v, %v, want %+v", m, again, err, r)
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseRequest(%q) = %+v, which fails Validate: %v", b, r, err)
		}
	})
}

// FuzzParseReply checks parse → marshal → parse, and that Marshal makes a
// parsable line of any text (the handler's text is anything).
func FuzzParseReply(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseReply(b); err == nil {
			m := r.Marshal()
			if !bytes.Equal(m, b) {
				t.Fatalf("ParseReply(%q) = %+v, which marshals to %q", b, r, m)
			}
			again, err := ParseReply(m)
			if err != nil || again != r {
				t.Fatalf("ParseReply(%q) = %+v, %v, want %+v", m, again, err, r)
			}
		}
		r := Reply{OK: len(b)%2 == 0, Text: string(b)}
		m := r.Marshal()
		if len(m) > maxReplyLen {
			t.Fatalf("%+v.Marshal() is %d bytes, more than %d", r, len(m), maxReplyLen)
		}
		got, err := ParseReply(m)
		if err != nil {
			t.Fatalf("ParseReply(%q) of %+v.Marshal(): %v", m, r, err)
		}
		if got.OK != r.OK || (!strings.HasSuffix(got.Text, truncated) && got.Text != r.Text) || !strings.HasPrefix(r.Text, strings.TrimSuffix(got.Text, truncated)) {
			t.Fatalf("ParseReply(%+v.Marshal()) = %+v", r, got)
		}
		if !bytes.Equal(got.Marshal(), m) {
			t.Fatalf("marshal is not stable: %q then %q", m, got.Marshal())
		}
	})
}

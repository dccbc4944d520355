package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLogOptionsJournal(t *testing.T) {
	for _, journal := range []bool{false, true} {
		var out bytes.Buffer
		slog.New(slog.NewTextHandler(&out, logOptions(journal))).Info("state armed", "n", 1)
		line := out.String()
		require.Contains(t, line, `level=INFO msg="state armed" n=1`)
		require.Equal(t, !journal, strings.HasPrefix(line, "time="), "journal=%v: %q", journal, line)
	}
}

package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADMEUsage keeps the README's usage block equal to `ramwiped -h`.
func TestREADMEUsage(t *testing.T) {
	var out bytes.Buffer
	_, _, err := flags([]string{"-h"}, &out, &out)
	require.ErrorIs(t, err, errDone)
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	usage := "$ ramwiped -h\n" + out.String()
	if !strings.Contains(string(readme), usage) {
		t.Fatalf("README.md must show `ramwiped -h` exactly:\n%s", usage)
	}
}

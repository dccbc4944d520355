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
	_, _, err := flags([]string{"-h"}, &out)
	require.Error(t, err)
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	usage := strings.ReplaceAll(out.String(), "Usage of ramwiped:\n", "$ ramwiped -h\n")
	require.Contains(t, string(readme), usage, "README.md must show `ramwiped -h` exactly:\n%s", usage)
}

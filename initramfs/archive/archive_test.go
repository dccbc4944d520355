package archive

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/u-root/u-root/pkg/cpio"
)

func TestBuildReproducible(t *testing.T) {
	files := []File{
		{Name: "init", Data: []byte("#!/bin/true\n"), Mode: 0o755},
		{Name: "lab/a/b", Data: bytes.Repeat([]byte{7}, 5000), Mode: 0o644},
	}
	var a, b bytes.Buffer
	require.NoError(t, Build(&a, files))
	// Reversed input order must not change a byte.
	require.NoError(t, Build(&b, []File{files[1], files[0]}))
	assert.Equal(t, sha256.Sum256(a.Bytes()), sha256.Sum256(b.Bytes()))
}

func TestBuildContents(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Build(&buf, []File{{Name: "/init", Data: []byte("x"), Mode: 0o4755}, {Name: "lab/k", Data: []byte("kernel"), Mode: 0o644}}))
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(buf.Bytes())))
	require.NoError(t, err)
	byName := map[string]cpio.Record{}
	var names []string
	for _, r := range recs {
		byName[r.Name] = r
		names = append(names, r.Name)
		assert.Zero(t, r.MTime, "%s: mtime", r.Name)
		assert.Zero(t, r.UID, "%s: uid", r.Name)
	}
	assert.Equal(t, []string{"dev", "dev/console", "init", "lab", "lab/k", "proc", "sys"}, names)
	assert.Equal(t, uint64(cpio.S_IFCHR|0o600), byName["dev/console"].Mode)
	assert.Equal(t, uint64(5), byName["dev/console"].Rmajor)
	assert.Equal(t, uint64(1), byName["dev/console"].Rminor)
	assert.Equal(t, uint64(cpio.S_IFREG|0o4755), byName["init"].Mode)
	assert.Equal(t, uint64(cpio.S_IFDIR|0o755), byName["lab"].Mode)
}

func TestBuildRejects(t *testing.T) {
	for name, files := range map[string][]File{
		"escape":         {{Name: "../etc/passwd"}},
		"empty":          {{Name: ""}},
		"twice":          {{Name: "init"}, {Name: "/init"}},
		"file and a dir": {{Name: "lab"}, {Name: "lab/x"}},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Error(t, Build(&bytes.Buffer{}, files))
		})
	}
}

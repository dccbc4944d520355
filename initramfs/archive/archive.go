package archive

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"
)

// File is one regular file of the image.
type File struct {
	Name string // path inside the image, such as "init"
	Data []byte
	Mode uint64 // permission bits, such as 0o755
}

// Build writes a newc cpio archive holding files, the directories they need,
// the mount points the /init uses (dev, proc, sys) and /dev/console (the
// kernel opens it for the /init's standard streams before anything is
// mounted). The output depends only on files: records are sorted, and
// times, owners and inode numbers are fixed.
func Build(w io.Writer, files []File) error {
	var recs []cpio.Record
	dirs := map[string]bool{"dev": true, "proc": true, "sys": true}
	names := map[string]bool{}
	for _, f := range files {
		name := cpio.Normalize(f.Name)
		if name == "" || name == "." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("archive: bad file name %q", f.Name)
		}
		if names[name] {
			return fmt.Errorf("archive: %q given twice", f.Name)
		}
		names[name] = true
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
		recs = append(recs, cpio.StaticRecord(f.Data, cpio.Info{
			Name: name,
			Mode: cpio.S_IFREG | (f.Mode & 0o7777),
		}))
	}
	for d := range dirs {
		if names[d] {
			return fmt.Errorf("archive: %q is both a file and a directory", d)
		}
		recs = append(recs, cpio.Directory(d, 0o755))
	}
	recs = append(recs, cpio.CharDev("dev/console", 0o600, 5, 1))
	slices.SortFunc(recs, func(a, b cpio.Record) int { return strings.Compare(a.Name, b.Name) })
	cpio.MakeAllReproducible(recs)

	rw := cpio.Newc.Writer(w)
	if err := cpio.WriteRecords(rw, recs); err != nil {
		return fmt.Errorf("archive: write cpio: %w", err)
	}
	if err := cpio.WriteTrailer(rw); err != nil {
		return fmt.Errorf("archive: write cpio trailer: %w", err)
	}
	return nil
}

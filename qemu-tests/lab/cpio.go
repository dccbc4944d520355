package lab

import (
	"bytes"
	"fmt"
	"io"

	"github.com/u-root/u-root/pkg/cpio"
)

// CpioFiles returns the contents of the regular files in a newc cpio
// archive (the format of the wipe image), in archive order.
func CpioFiles(b []byte) ([][]byte, error) {
	if !bytes.HasPrefix(b, []byte("07070")) {
		return nil, fmt.Errorf("cpio: not a newc archive (no 07070x magic)")
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(b)))
	if err != nil {
		return nil, fmt.Errorf("cpio: %w", err)
	}
	var files [][]byte
	for _, r := range recs {
		if r.Mode&cpio.S_IFMT != cpio.S_IFREG {
			continue
		}
		data, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
		if err != nil {
			return nil, fmt.Errorf("cpio: %s: %w", r.Name, err)
		}
		files = append(files, data)
	}
	return files, nil
}

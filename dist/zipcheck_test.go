package dist

// CheckZip stands between untrusted bytes and zip.NewReader, so besides
// its own verdicts these tests check the one property that matters: when
// it accepts a zip and names n entries, zip.NewReader reads no more than n.

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// zipOfN writes a zip of n empty stored members named "f%07d", plus those
// given, with zip.Writer; from 65,535 entries on it writes ZIP64 records.
func zipOfN(t testing.TB, n int, extra map[string]string) []byte {
	t.Helper()
	b, err := buildZip(n, extra)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func buildZip(n int, extra map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range n {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("f%07d", i), Method: zip.Store}); err != nil {
			return nil, err
		}
	}
	for name, body := range extra {
		w, err := zw.Create(name)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(body)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// zip64Of70k is a zip.Writer ZIP64 zip, built once: its 16-bit count says
// 0xffff, only the ZIP64 record holds 70,000.
var zip64Of70k = sync.OnceValues(func() ([]byte, error) { return buildZip(70000, nil) })

// End record fields of a zip without a comment, as zip.Writer writes it.
const (
	endEntriesDisk = 8
	endEntries     = 10
	endDirSize     = 12
	endDirOffset   = 16
	endComment     = 20
)

func endRec(b []byte) []byte { return b[len(b)-zipEndLen:] }

// patch returns a copy of b changed by f.
func patch(b []byte, f func(b []byte)) []byte {
	b = bytes.Clone(b)
	f(b)
	return b
}

func put16(b []byte, off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
func put64(b []byte, off int, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }

// setCount sets both 16-bit counts of the end record.
func setCount(b []byte, n uint16) []byte {
	put16(endRec(b), endEntriesDisk, n)
	put16(endRec(b), endEntries, n)
	return b
}

// plainEnd replaces the ZIP64 records and the end record of a zip.Writer
// ZIP64 zip with a plain end record of the given count: the lie
// zip.NewReader accepts when the count matches modulo 65,536.
func plainEnd(b []byte, count uint16) []byte {
	loc := len(b) - zipEndLen - zip64LocatorLen
	rec := int(binary.LittleEndian.Uint64(b[loc+8:]))
	dirSize := binary.LittleEndian.Uint64(b[rec+40:])
	dirOffset := binary.LittleEndian.Uint64(b[rec+48:])
	out := append(bytes.Clone(b[:rec]), make([]byte, zipEndLen)...)
	e := endRec(out)
	put32(e, 0, zipEndSig)
	put16(e, endEntriesDisk, count)
	put16(e, endEntries, count)
	put32(e, endDirSize, uint32(dirSize))
	put32(e, endDirOffset, uint32(dirOffset))
	return out
}

// checkAgrees fails when CheckZip accepts b but zip.NewReader reads more
// entries than CheckZip counted.
func checkAgrees(t testing.TB, b []byte, maxEntries int) {
	t.Helper()
	n, err := CheckZip(bytes.NewReader(b), int64(len(b)), maxEntries)
	if err != nil {
		if !errors.Is(err, ErrZipCorrupt) && !errors.Is(err, ErrZipTooBig) {
			t.Fatalf("CheckZip: an error that is neither corrupt nor too big: %v", err)
		}
		return
	}
	if n > maxEntries {
		t.Fatalf("CheckZip accepted %d entries, cap %d", n, maxEntries)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err == nil && len(zr.File) > n {
		t.Fatalf("CheckZip counted %d entries, zip.NewReader read %d", n, len(zr.File))
	}
}

func TestCheckZip(t *testing.T) {
	three := zipOfN(t, 3, nil)
	dirOffset := int(binary.LittleEndian.Uint32(endRec(three)[endDirOffset:]))
	z64, err := zip64Of70k()
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint16(endRec(z64)[endEntries:]); got != 0xffff {
		t.Fatalf("zip.Writer's 70,000-entry zip has a 16-bit count of %d, not 0xffff: no ZIP64 to test", got)
	}
	z64loc := len(z64) - zipEndLen - zip64LocatorLen
	z64rec := int(binary.LittleEndian.Uint64(z64[z64loc+8:]))
	lie := plainEnd(zipOfN(t, 65537, nil), 1)
	if zr, err := zip.NewReader(bytes.NewReader(lie), int64(len(lie))); err != nil || len(zr.File) != 65537 {
		t.Fatalf("zip.NewReader on a count of 1 over 65,537 entries: %v; the test means to show it reads them all", err)
	}
	longNames := map[string]string{}
	for i := range 20 {
		longNames[fmt.Sprintf("%d%s", i, strings.Repeat("x", 60000))] = ""
	}
	long := zipOfN(t, 0, longNames)
	// Names long enough that five entries could fit its directory's size.
	dirName := "pkg-1.0/" + strings.Repeat("n", 100) + "/"
	wordy := zipOfN(t, 0, map[string]string{dirName + "a": "", dirName + "b": "", dirName + "c": ""})

	tests := []struct {
		name    string
		zip     []byte
		max     int
		want    int
		wantErr error
		errText string
	}{
		{name: "empty zip", zip: zipOfN(t, 0, nil), max: 10, want: 0},
		{name: "under the cap", zip: three, max: 4, want: 3},
		{name: "at the cap", zip: three, max: 3, want: 3},
		{name: "over the cap", zip: three, max: 2, wantErr: ErrZipTooBig, errText: "more than 2 members (its directory lists 3)"},
		{name: "with a comment", zip: func() []byte {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			zw.Create("a")
			zw.SetComment(strings.Repeat("c", 65535))
			zw.Close()
			return buf.Bytes()
		}(), max: 1, want: 1},
		{name: "ZIP64 record read", zip: z64, max: 100000, want: 70000},
		{name: "ZIP64 over the cap", zip: z64, max: 69999, wantErr: ErrZipTooBig, errText: "lists 70000"},
		{name: "ZIP64 far over the 16-bit count", zip: z64, max: 65535, wantErr: ErrZipTooBig, errText: "lists 70000"},

		{name: "zero bytes", zip: nil, max: 10, wantErr: ErrZipCorrupt, errText: "too short"},
		{name: "not a zip", zip: []byte("PK\x03\x04 this is not a zip, not at all"), max: 10, wantErr: ErrZipCorrupt, errText: "no end of central directory record"},
		{name: "truncated by a byte", zip: three[:len(three)-1], max: 10, wantErr: ErrZipCorrupt},
		{name: "truncated in half", zip: three[:len(three)/2], max: 10, wantErr: ErrZipCorrupt},
		{name: "truncated before its end record", zip: three[:len(three)-zipEndLen], max: 10, wantErr: ErrZipCorrupt},
		{name: "comment past the end", zip: patch(three, func(b []byte) { put16(endRec(b), endComment, 100) }), max: 10, wantErr: ErrZipCorrupt, errText: "comment"},
		{name: "count above the directory's", zip: patch(wordy, func(b []byte) { setCount(b, 5) }), max: 10, wantErr: ErrZipCorrupt, errText: "holds 3 entries, its end record lists 5"},
		{name: "count below the directory's", zip: patch(three, func(b []byte) { setCount(b, 2) }), max: 10, wantErr: ErrZipCorrupt, errText: "more than the 2 entries"},
		{name: "count of 0 with a directory", zip: patch(three, func(b []byte) { setCount(b, 0) }), max: 10, wantErr: ErrZipCorrupt},
		{name: "count too large for the directory size", zip: patch(three, func(b []byte) { setCount(b, 9) }), max: 10, wantErr: ErrZipCorrupt, errText: "cannot fit"},
		{name: "count lies modulo 65536", zip: lie, max: 10, wantErr: ErrZipCorrupt, errText: "holds more than 1 entries"},
		{name: "directory size short", zip: patch(three, func(b []byte) {
			put32(endRec(b), endDirSize, binary.LittleEndian.Uint32(endRec(b)[endDirSize:])-10)
		}), max: 10, wantErr: ErrZipCorrupt, errText: "does not end where its end record begins"},
		{name: "directory size past the file", zip: patch(three, func(b []byte) { put32(endRec(b), endDirSize, 1<<30) }), max: 10, wantErr: ErrZipCorrupt},
		{name: "offset past the end", zip: patch(three, func(b []byte) { put32(endRec(b), endDirOffset, uint32(len(b)+100)) }), max: 10, wantErr: ErrZipCorrupt, errText: "past the end"},
		{name: "offset moved", zip: patch(three, func(b []byte) { put32(endRec(b), endDirOffset, 0) }), max: 10, wantErr: ErrZipCorrupt},
		{name: "data before the archive", zip: append(bytes.Repeat([]byte{'#'}, 100), three...), max: 10, wantErr: ErrZipCorrupt, errText: "does not end where"},
		{name: "bad header signature", zip: patch(three, func(b []byte) { put32(b, dirOffset, 0x12345678) }), max: 10, wantErr: ErrZipCorrupt, errText: "no header signature"},
		{name: "name past the directory", zip: patch(three, func(b []byte) { put16(b, dirOffset+28, 0xffff) }), max: 10, wantErr: ErrZipCorrupt, errText: "runs past the end of the central directory"},
		{name: "ZIP64 locator past the end", zip: patch(z64, func(b []byte) { put64(b, z64loc+8, uint64(len(b))+1000) }), max: 100000, wantErr: ErrZipCorrupt, errText: "does not fit before its locator"},
		{name: "ZIP64 locator at its own offset", zip: patch(z64, func(b []byte) { put64(b, z64loc+8, uint64(z64loc)) }), max: 100000, wantErr: ErrZipCorrupt},
		{name: "ZIP64 record without its signature", zip: patch(z64, func(b []byte) { put32(b, z64rec, 0) }), max: 100000, wantErr: ErrZipCorrupt, errText: "no ZIP64 end record"},
		{name: "ZIP64 count of a billion", zip: patch(z64, func(b []byte) { put64(b, z64rec+32, 1e9) }), max: 100000, wantErr: ErrZipTooBig, errText: "lists 1000000000"},
		{name: "ZIP64 count above the directory's", zip: patch(z64, func(b []byte) { put64(b, z64rec+32, 70001) }), max: 100000, wantErr: ErrZipCorrupt, errText: "holds 70000 entries, its end record lists 70001"},
		{name: "ZIP64 offset huge", zip: patch(z64, func(b []byte) { put64(b, z64rec+48, 1<<63) }), max: 100000, wantErr: ErrZipCorrupt, errText: "past the end"},
		{name: "ZIP64 size huge", zip: patch(z64, func(b []byte) { put64(b, z64rec+40, 1<<63+5) }), max: 100000, wantErr: ErrZipCorrupt},
		{name: "ZIP64 locator gone: the 16-bit count stands", zip: patch(z64, func(b []byte) { put32(b, z64loc, 0) }), max: 100000, wantErr: ErrZipCorrupt},
		{name: "directory too large for the cap", zip: long, max: 20, wantErr: ErrZipTooBig, errText: "central directory of"},
		{name: "directory of long names under a larger cap", zip: long, max: 2000, want: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := CheckZip(bytes.NewReader(tt.zip), int64(len(tt.zip)), tt.max)
			if tt.wantErr == nil {
				if err != nil || n != tt.want {
					t.Fatalf("CheckZip = %d, %v; want %d entries", n, err, tt.want)
				}
				zr, err := zip.NewReader(bytes.NewReader(tt.zip), int64(len(tt.zip)))
				if err != nil || len(zr.File) != n {
					t.Fatalf("zip.NewReader disagrees: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(fmt.Sprint(err), tt.errText) {
				t.Fatalf("CheckZip = %d, %v; want an error wrapping %v, saying %q", n, err, tt.wantErr, tt.errText)
			}
			checkAgrees(t, tt.zip, tt.max)
		})
	}
}

// TestCheckZipMutations: every truncation, and every byte of the central
// directory and end record set to a few values, is either rejected or read
// by zip.NewReader as no more entries than CheckZip counted.
func TestCheckZipMutations(t *testing.T) {
	for _, z := range [][]byte{zipOfN(t, 3, nil), zipOfN(t, 0, map[string]string{"a/b.txt": "hello", "c": ""})} {
		for n := range len(z) {
			checkAgrees(t, z[:n], 10)
		}
		dir := int(binary.LittleEndian.Uint32(endRec(z)[endDirOffset:]))
		for i := dir; i < len(z); i++ {
			for _, v := range []byte{0, 1, 2, 3, 5, 0x2e, 0x7f, 0xfe, 0xff, z[i] + 1, z[i] - 1} {
				m := bytes.Clone(z)
				m[i] = v
				checkAgrees(t, m, 10)
			}
		}
	}
}

func FuzzCheckZip(f *testing.F) {
	f.Add(zipOfN(f, 0, nil))
	f.Add(zipOfN(f, 3, nil))
	f.Add(zipOfN(f, 0, map[string]string{"a/b.txt": "hello", "c": ""}))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAgrees(t, b, 10)
	})
}

// TestWheelInfoFileTooManyEntries: a wheel past MaxWheelEntries is an
// error before its directory is read; one at the cap is read.
func TestWheelInfoFileTooManyEntries(t *testing.T) {
	meta := map[string]string{"x-1.0.dist-info/METADATA": "Name: x\nVersion: 1.0\n"}
	for _, tt := range []struct {
		entries int
		wantErr bool
	}{
		{entries: MaxWheelEntries - 1},
		{entries: MaxWheelEntries, wantErr: true},
	} {
		p := filepath.Join(t.TempDir(), "x-1.0-py3-none-any.whl")
		if err := os.WriteFile(p, zipOfN(t, tt.entries, meta), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := WheelMetadata(p)
		switch {
		case tt.wantErr && (!errors.Is(err, ErrZipTooBig) || !strings.Contains(err.Error(), fmt.Sprint(tt.entries+1))):
			t.Errorf("%d entries: %q, %v; want an error wrapping ErrZipTooBig naming %d", tt.entries+1, b, err, tt.entries+1)
		case !tt.wantErr && (err != nil || string(b) != meta["x-1.0.dist-info/METADATA"]):
			t.Errorf("%d entries: %q, %v; want the METADATA", tt.entries+1, b, err)
		}
	}
	// A corrupt wheel is an error too, not a panic.
	p := filepath.Join(t.TempDir(), "x-1.0-py3-none-any.whl")
	z := zipOfN(t, 3, meta)
	if err := os.WriteFile(p, setCount(z, 9), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := WheelMetadata(p); !errors.Is(err, ErrZipCorrupt) {
		t.Errorf("a wheel whose count is not its directory's: %v; want an error wrapping ErrZipCorrupt", err)
	}
}

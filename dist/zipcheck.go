package dist

// Checking a zip before opening it. Go's zip.NewReader reads and allocates
// the whole central directory before a caller can count its entries, and it
// does not trust the count in the end record either: it reads headers until
// one fails to parse and compares only the low 16 bits. A zip of millions of
// tiny entries therefore costs hundreds of megabytes before any cap applies.
// CheckZip reads the end records (a bounded read from the end of the file),
// rejects a count or a directory past the caller's caps, and walks the
// directory with a fixed buffer to prove that zip.NewReader, which finds the
// same end record the same way, will stop after exactly that many entries.
//
// Why here and not in package archive: dist is the leaf of the import graph
// (crawler, index, resolver, store, report, runner and more import it, and it
// imports no package of pysmoke), while archive is used by the runner alone.
// Wheels are read here (WheelInfoFile), so dist needs the check; were it in
// archive, dist would import archive, every importer of dist would pull in the
// unpacker, and archive could never use dist. So archive imports dist.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

var (
	// ErrZipTooBig marks a zip past the caller's caps: too many entries, or
	// too large a central directory for that many.
	ErrZipTooBig = errors.New("zip too big")
	// ErrZipCorrupt marks a zip whose end records or central directory do
	// not hold together.
	ErrZipCorrupt = errors.New("corrupt zip")
)

const (
	zipEndLen         = 22                 // end of central directory record, without its comment
	zipEndScan        = zipEndLen + 0xffff // the record and the longest comment
	zip64LocatorLen   = 20
	zip64EndLen       = 56
	zipDirHeaderLen   = 46
	zipDirHeaderMax   = zipDirHeaderLen + 3*0xffff // name, extra field and comment at their longest
	zipEndSig         = 0x06054b50
	zip64LocatorSig   = 0x07064b50
	zip64EndSig       = 0x06064b50
	zipDirHeaderSig   = 0x02014b50
	zipDirBytesPerCap = 1024 // central directory bytes allowed per allowed entry...
	zipDirMinCap      = 1024 // ...counting at least this many entries (1 MiB)
)

// CheckZip checks the zip of size bytes in r before it is opened, reading
// only its end records and, when they pass, its central directory through
// a fixed buffer: a few tens of kilobytes whatever the zip. It returns the
// number of entries, at most maxEntries. An error wrapping ErrZipTooBig
// means more than maxEntries entries, or a central directory larger than
// 1 KiB per allowed entry (1 MiB at least); one wrapping ErrZipCorrupt
// means the records do not hold together; any other error is a read error
// of r.
//
// A zip CheckZip accepts is one zip.NewReader reads at most n entries of:
// the directory must start at the offset its end record gives, end where
// that record (or its ZIP64 record) begins, and hold exactly the number of
// entries the record gives. A self-extracting zip, with data before the
// archive, is therefore corrupt here; wheels and sdists never have one.
func CheckZip(r io.ReaderAt, size int64, maxEntries int) (n int, err error) {
	end, err := readZipEnd(r, size)
	if err != nil {
		return 0, err
	}
	maxEntries = max(maxEntries, 0)
	if end.entries > uint64(maxEntries) {
		return 0, fmt.Errorf("%w: more than %d members (its directory lists %d)", ErrZipTooBig, maxEntries, end.entries)
	}
	if end.dirOffset >= uint64(size) {
		return 0, zipCorrupt("central directory offset %d past the end of the %d-byte file", end.dirOffset, size)
	}
	if end.dirOffset > uint64(end.at) || end.dirSize != uint64(end.at)-end.dirOffset {
		return 0, zipCorrupt("central directory of %d bytes at %d does not end where its end record begins, at %d", end.dirSize, end.dirOffset, end.at)
	}
	if end.entries > end.dirSize/zipDirHeaderLen {
		return 0, zipCorrupt("%d entries cannot fit in a central directory of %d bytes", end.entries, end.dirSize)
	}
	if (end.dirSize+zipDirHeaderMax-1)/zipDirHeaderMax > end.entries {
		return 0, zipCorrupt("a central directory of %d bytes holds more than %d entries", end.dirSize, end.entries)
	}
	if (end.dirSize+zipDirBytesPerCap-1)/zipDirBytesPerCap > uint64(max(maxEntries, zipDirMinCap)) {
		return 0, fmt.Errorf("%w: central directory of %d bytes, more than %d bytes per allowed member", ErrZipTooBig, end.dirSize, zipDirBytesPerCap)
	}
	if err := walkZipDir(r, end); err != nil {
		return 0, err
	}
	return int(end.entries), nil
}

// zipEnd is what a zip's end records say of its central directory.
type zipEnd struct {
	entries   uint64
	dirSize   uint64
	dirOffset uint64
	at        int64 // where the directory must end: the offset of the end record, or of the ZIP64 one
}

// readZipEnd finds the end record the way archive/zip does: the last
// signature in the final bytes of the file, whose comment must fit.
func readZipEnd(r io.ReaderAt, size int64) (zipEnd, error) {
	if size < zipEndLen {
		return zipEnd{}, zipCorrupt("%d bytes, too short for a zip", size)
	}
	buf := make([]byte, min(size, zipEndScan))
	base := size - int64(len(buf))
	if err := readFullAt(r, buf, base); err != nil {
		return zipEnd{}, err
	}
	p := -1
	for i := len(buf) - zipEndLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == zipEndSig {
			p = i
			break
		}
	}
	if p < 0 {
		return zipEnd{}, zipCorrupt("no end of central directory record")
	}
	rec := buf[p : p+zipEndLen]
	if comment := int(binary.LittleEndian.Uint16(rec[20:])); p+zipEndLen+comment > len(buf) {
		return zipEnd{}, zipCorrupt("end record's comment of %d bytes runs past the end of the file", comment)
	}
	end := zipEnd{
		entries:   uint64(binary.LittleEndian.Uint16(rec[10:])),
		dirSize:   uint64(binary.LittleEndian.Uint32(rec[12:])),
		dirOffset: uint64(binary.LittleEndian.Uint32(rec[16:])),
		at:        base + int64(p),
	}
	// The ZIP64 record is looked for exactly when archive/zip looks for it
	// (which tests the size against 0xffff, not 0xffffffff), and skipped
	// when it skips it, so that both read the same directory. A size of
	// 0xffffffff without a ZIP64 record is then simply too large a
	// directory.
	if end.entries == 0xffff || end.dirSize == 0xffff || end.dirOffset == 0xffffffff {
		if err := end.readZip64(r); err != nil {
			return zipEnd{}, err
		}
	}
	return end, nil
}

// readZip64 follows the ZIP64 locator just before the end record, if there
// is a valid one, to the ZIP64 end record, which must come before it.
func (e *zipEnd) readZip64(r io.ReaderAt) error {
	loc := e.at - zip64LocatorLen
	if loc < 0 {
		return nil
	}
	var b [zip64LocatorLen]byte
	if err := readFullAt(r, b[:], loc); err != nil {
		return err
	}
	if binary.LittleEndian.Uint32(b[0:]) != zip64LocatorSig || binary.LittleEndian.Uint32(b[4:]) != 0 || binary.LittleEndian.Uint32(b[16:]) != 1 {
		return nil // not a ZIP64 locator, or one of a multi-disk archive: archive/zip ignores it too
	}
	at := binary.LittleEndian.Uint64(b[8:])
	if at > uint64(loc) || uint64(loc)-at < zip64EndLen {
		return zipCorrupt("ZIP64 end record at %d does not fit before its locator at %d", at, loc)
	}
	var rec [zip64EndLen]byte
	if err := readFullAt(r, rec[:], int64(at)); err != nil {
		return err
	}
	if binary.LittleEndian.Uint32(rec[0:]) != zip64EndSig {
		return zipCorrupt("no ZIP64 end record at %d, where its locator points", at)
	}
	e.entries = binary.LittleEndian.Uint64(rec[32:])
	e.dirSize = binary.LittleEndian.Uint64(rec[40:])
	e.dirOffset = binary.LittleEndian.Uint64(rec[48:])
	e.at = int64(at)
	return nil
}

// walkZipDir reads the directory's headers, as zip.NewReader will, and
// checks that exactly e.entries of them fill it. The sizes were checked
// against the caps already, so this reads a bounded number of bytes.
func walkZipDir(r io.ReaderAt, e zipEnd) error {
	br := bufio.NewReaderSize(io.NewSectionReader(r, int64(e.dirOffset), int64(e.dirSize)), 16<<10)
	var h [zipDirHeaderLen]byte
	var n uint64
	for pos := uint64(0); pos < e.dirSize; n++ {
		if n == e.entries {
			return zipCorrupt("central directory holds more than the %d entries its end record lists", e.entries)
		}
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return zipDirErr(err, "entry %d's header runs past the end of the central directory", n)
		}
		if binary.LittleEndian.Uint32(h[:]) != zipDirHeaderSig {
			return zipCorrupt("entry %d of the central directory has no header signature", n)
		}
		vl := int(binary.LittleEndian.Uint16(h[28:])) + int(binary.LittleEndian.Uint16(h[30:])) + int(binary.LittleEndian.Uint16(h[32:]))
		if _, err := br.Discard(vl); err != nil {
			return zipDirErr(err, "entry %d's name, extra field or comment runs past the end of the central directory", n)
		}
		pos += zipDirHeaderLen + uint64(vl)
	}
	if n != e.entries {
		return zipCorrupt("central directory holds %d entries, its end record lists %d", n, e.entries)
	}
	return nil
}

func zipDirErr(err error, format string, a ...any) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return zipCorrupt(format, a...)
	}
	return fmt.Errorf("read zip: %w", err)
}

// readFullAt reads len(b) bytes at off; a short file is a corrupt zip.
func readFullAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	switch {
	case n == len(b):
		return nil
	case err == nil || errors.Is(err, io.EOF):
		return zipCorrupt("%d bytes at %d: unexpected end of file", len(b), off)
	}
	return fmt.Errorf("read zip: %w", err)
}

func zipCorrupt(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrZipCorrupt, fmt.Sprintf(format, a...))
}

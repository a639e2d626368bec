package archive_test

// A zip's member count is checked from its end records before its central
// directory is read: a zip of a million empty entries is rejected by
// Unpack and Members in well under a megabyte of allocation, where
// zip.NewReader alone would take hundreds of megabytes to read its
// directory. The zips are written by hand, entry by entry, into the test's
// temporary directory: zip.Writer would keep a million headers in memory.

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pysmoke/pysmoke/archive"
	"github.com/pysmoke/pysmoke/dist"
)

const hugeEntries = 1_000_000

// writeManyZip writes a zip of n empty stored files named "f%07d" to path,
// with ZIP64 end records from 65,535 entries on, as zip.Writer does.
func writeManyZip(tb testing.TB, path string, n int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	le := binary.LittleEndian
	const nameLen = 8
	name := func(b []byte, i int) {
		b[0] = 'f'
		for j := nameLen - 1; j > 0; j-- {
			b[j] = byte('0' + i%10)
			i /= 10
		}
	}

	local := make([]byte, 30+nameLen)
	le.PutUint32(local[0:], 0x04034b50)
	le.PutUint16(local[4:], 20)    // version needed
	le.PutUint16(local[12:], 0x21) // 1980-01-01; method, CRC-32 and sizes are 0
	le.PutUint16(local[26:], nameLen)
	for i := range n {
		name(local[30:], i)
		w.Write(local)
	}

	central := make([]byte, 46+nameLen)
	le.PutUint32(central[0:], 0x02014b50)
	le.PutUint16(central[4:], 3<<8|20) // made by Unix
	le.PutUint16(central[6:], 20)
	le.PutUint16(central[14:], 0x21)
	le.PutUint16(central[28:], nameLen)
	le.PutUint32(central[38:], 0o100644<<16)
	for i := range n {
		le.PutUint32(central[42:], uint32(i*len(local)))
		name(central[46:], i)
		w.Write(central)
	}

	dirOffset, dirSize := uint64(n*len(local)), uint64(n*len(central))
	count16, size32, offset32 := uint16(n), uint32(dirSize), uint32(dirOffset)
	if n >= 0xffff {
		rec := make([]byte, 56)
		le.PutUint32(rec[0:], 0x06064b50)
		le.PutUint64(rec[4:], 44)
		le.PutUint16(rec[12:], 45)
		le.PutUint16(rec[14:], 45)
		le.PutUint64(rec[24:], uint64(n))
		le.PutUint64(rec[32:], uint64(n))
		le.PutUint64(rec[40:], dirSize)
		le.PutUint64(rec[48:], dirOffset)
		loc := make([]byte, 20)
		le.PutUint32(loc[0:], 0x07064b50)
		le.PutUint64(loc[8:], dirOffset+dirSize)
		le.PutUint32(loc[16:], 1)
		w.Write(rec)
		w.Write(loc)
		count16, size32, offset32 = 0xffff, 0xffffffff, 0xffffffff
	}
	end := make([]byte, 22)
	le.PutUint32(end[0:], 0x06054b50)
	le.PutUint16(end[8:], count16)
	le.PutUint16(end[10:], count16)
	le.PutUint32(end[12:], size32)
	le.PutUint32(end[16:], offset32)
	w.Write(end)
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHugeZipRejectedUnread: a million entries are refused on the count in
// the end records, without the directory being read.
func TestHugeZipRejectedUnread(t *testing.T) {
	p := filepath.Join(t.TempDir(), "huge-1.0.zip")
	writeManyZip(t, p, hugeEntries)
	const budget = 1 << 20
	wantCount := strconv.Itoa(hugeEntries)

	t.Run("Unpack", func(t *testing.T) {
		dest := t.TempDir()
		var err error
		n := allocated(func() { err = archive.Unpack(p, dest, archive.Limits{}) })
		if !errors.Is(err, archive.ErrRejected) || !errors.Is(err, dist.ErrZipTooBig) || !strings.Contains(err.Error(), wantCount) {
			t.Fatalf("Unpack: %v; want a rejection naming %s members", err, wantCount)
		}
		if n > budget {
			t.Errorf("Unpack allocated %d bytes to reject the zip, more than %d", n, budget)
		}
		if entries, _ := os.ReadDir(dest); len(entries) != 0 {
			t.Errorf("Unpack wrote %d entries before rejecting", len(entries))
		}
		t.Logf("%v; %d bytes allocated", err, n)
	})
	t.Run("Members", func(t *testing.T) {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		var ms []archive.Member
		n := allocated(func() { ms, err = archive.Members(f, p, fi.Size()) })
		if err == nil || !errors.Is(err, dist.ErrZipTooBig) || !strings.Contains(err.Error(), wantCount) || ms != nil {
			t.Fatalf("Members: %d members, %v; want an error naming %s members", len(ms), err, wantCount)
		}
		if n > budget {
			t.Errorf("Members allocated %d bytes to reject the zip, more than %d", n, budget)
		}
		t.Logf("%v; %d bytes allocated", err, n)
	})
}

// TestZipAtTheCap: a zip at the member cap is read; one more is refused.
func TestZipAtTheCap(t *testing.T) {
	dir := t.TempDir()
	zipOf := func(n int) string {
		p := filepath.Join(dir, fmt.Sprintf("many-%d.zip", n))
		writeManyZip(t, p, n)
		return p
	}

	lim := archive.Limits{MaxFiles: 200}
	dest := t.TempDir()
	if err := archive.Unpack(zipOf(200), dest, lim); err != nil {
		t.Fatalf("Unpack of 200 members, cap 200: %v", err)
	}
	if entries, _ := os.ReadDir(dest); len(entries) != 200 {
		t.Errorf("Unpack of 200 members wrote %d", len(entries))
	}
	err := archive.Unpack(zipOf(201), t.TempDir(), lim)
	if !errors.Is(err, archive.ErrRejected) || !strings.Contains(err.Error(), "more than 200 members (its directory lists 201)") {
		t.Errorf("Unpack of 201 members, cap 200: %v", err)
	}

	members := func(p string) ([]archive.Member, error) {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		return archive.Members(f, p, fi.Size())
	}
	ms, err := members(zipOf(20000))
	if err != nil || len(ms) != 20000 || ms[0].Path != "f0000000" || ms[0].SHA256 == "" {
		t.Fatalf("Members of 20,000 entries: %d, %v", len(ms), err)
	}
	if ms, err := members(zipOf(20001)); err == nil || !strings.Contains(err.Error(), "too many members") || !strings.Contains(err.Error(), "20001") {
		t.Errorf("Members of 20,001 entries: %d, %v; want too many members", len(ms), err)
	}
}

// TestCorruptZipRejected: end records that do not hold together are a
// rejection (Unpack) or an error (Members), never a panic or a long read.
func TestCorruptZipRejected(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.zip")
	writeManyZip(t, good, 3)
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	end := len(b) - 22
	patched := func(off int, v uint32, width int) []byte {
		c := bytes.Clone(b)
		if width == 2 {
			binary.LittleEndian.PutUint16(c[off:], uint16(v))
		} else {
			binary.LittleEndian.PutUint32(c[off:], v)
		}
		return c
	}
	for _, tt := range []struct {
		name string
		zip  []byte
	}{
		{"truncated end record", b[:len(b)-5]},
		{"truncated directory", append(bytes.Clone(b[:end-20]), b[end:]...)},
		{"count above the directory's", patched(end+10, 9, 2)},
		{"count below the directory's", patched(end+10, 2, 2)},
		{"directory size past the file", patched(end+12, 1<<31, 4)},
		{"offset past the end", patched(end+16, uint32(len(b)+1), 4)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "pkg-1.0.zip")
			if err := os.WriteFile(p, tt.zip, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := archive.Unpack(p, t.TempDir(), archive.Limits{}); !errors.Is(err, archive.ErrRejected) || !errors.Is(err, dist.ErrZipCorrupt) {
				t.Errorf("Unpack: %v; want a rejection of a corrupt zip", err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if ms, err := archive.Members(f, p, int64(len(tt.zip))); !errors.Is(err, dist.ErrZipCorrupt) {
				t.Errorf("Members: %d members, %v; want a corrupt zip", len(ms), err)
			}
		})
	}
}

// childEnv names the zip a child of BenchmarkRejectHugeZip reads, and how.
const (
	childZipEnv = "PYSMOKE_HUGE_ZIP"
	childWayEnv = "PYSMOKE_HUGE_ZIP_WAY" // "unpack" or "zip.NewReader"
)

// TestRejectHugeZipChild is the child process of BenchmarkRejectHugeZip:
// it reads the zip one way, and nothing else, so that its peak RSS is that
// of the read. Run without the benchmark's environment, it does nothing.
func TestRejectHugeZipChild(t *testing.T) {
	p := os.Getenv(childZipEnv)
	if p == "" {
		t.Skip("run by BenchmarkRejectHugeZip")
	}
	switch way := os.Getenv(childWayEnv); way {
	case "unpack":
		if err := archive.Unpack(p, t.TempDir(), archive.Limits{}); !errors.Is(err, archive.ErrRejected) {
			t.Fatalf("Unpack: %v; want a rejection", err)
		}
	case "zip.NewReader":
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		zr, err := zip.NewReader(f, fi.Size())
		if err != nil || len(zr.File) != hugeEntries {
			t.Fatalf("zip.NewReader: %v; want %d entries", err, hugeEntries)
		}
		runtime.KeepAlive(zr)
	default:
		t.Fatalf("%s=%q", childWayEnv, way)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for line := range strings.Lines(string(status)) {
			if strings.HasPrefix(line, "VmHWM:") {
				fmt.Printf("child-%s\n", strings.Join(strings.Fields(line), " "))
			}
		}
	}
}

// childPeakRSS runs the test binary again as TestRejectHugeZipChild reading
// p the given way, and returns its peak RSS in MB as the kernel accounts it
// (ru_maxrss) and as the child saw it in /proc/self/status (VmHWM; 0 when
// that is unreadable). ru_maxrss of a child that os/exec started also
// counts the parent's own peak up to the exec, so it is an upper bound.
func childPeakRSS(b *testing.B, p, way string) (maxrss, hwm float64) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestRejectHugeZipChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childZipEnv+"="+p, childWayEnv+"="+way)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("child reading the zip by %s: %v\n%s", way, err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Skip("no rusage on this system")
	}
	for line := range strings.Lines(string(out)) {
		if kb, ok := strings.CutPrefix(strings.TrimSpace(line), "child-VmHWM: "); ok {
			n, _ := strconv.ParseFloat(strings.TrimSuffix(kb, " kB"), 64)
			hwm = n / 1024
		}
	}
	return float64(ru.Maxrss) / 1024, hwm
}

// BenchmarkRejectHugeZip measures rejecting a zip of a million entries:
// in-process allocation per Unpack, then the peak RSS of a child process
// that only rejects it, against a child that opens it with zip.NewReader
// (what Unpack and Members did before counting first). Generating the zip
// and running the children takes a few seconds per round; run it with
// -benchtime 1x.
func BenchmarkRejectHugeZip(b *testing.B) {
	p := filepath.Join(b.TempDir(), "huge-1.0.zip")
	writeManyZip(b, p, hugeEntries)
	dest := b.TempDir()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for range b.N {
		if err := archive.Unpack(p, dest, archive.Limits{}); !errors.Is(err, archive.ErrRejected) {
			b.Fatalf("Unpack: %v; want a rejection", err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N), "alloc-bytes/op")
	b.ReportMetric(float64(after.HeapSys)-float64(before.HeapSys), "heapsys-growth-bytes")

	newRSS, newHWM := childPeakRSS(b, p, "unpack")
	oldRSS, oldHWM := childPeakRSS(b, p, "zip.NewReader")
	b.ReportMetric(newRSS, "peak-rss-MB")
	b.ReportMetric(newHWM, "child-hwm-MB")
	b.ReportMetric(oldRSS, "old-peak-rss-MB")
	b.ReportMetric(oldHWM, "old-child-hwm-MB")
	if newRSS >= 64 {
		b.Errorf("rejecting the zip peaked at %.1f MB of RSS, target under 64 MB", newRSS)
	}
}

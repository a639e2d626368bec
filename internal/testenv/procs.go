package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Marker returns a fresh string a test puts on the command lines of the
// processes it starts, to find any that outlive what should end them.
func Marker(t testing.TB) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "pysmoke-test-marker-" + hex.EncodeToString(b)
}

// ProcsWith lists host processes whose command line holds marker.
func ProcsWith(marker string) []string {
	entries, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' || e.Name() == fmt.Sprint(os.Getpid()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(marker)) {
			found = append(found, e.Name()+": "+string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
		}
	}
	return found
}

// NoProcs waits (up to a few seconds: the kernel tears a pid
// namespace down asynchronously) for every process holding marker to go.
func NoProcs(t testing.TB, marker string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := ProcsWith(marker)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes survived the step:\n%s", strings.Join(left, "\n"))
			for _, p := range left {
				var pid int
				fmt.Sscanf(p, "%d:", &pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

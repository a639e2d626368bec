package report

import "testing"

// Accept-Encoding as RFC 9110 12.5.3 reads it; the cases a client can
// only send with compression of its own turned off, too.
func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                    false, // no preference said: identity is safe
		"gzip":                true,
		"GZIP":                true,
		"x-gzip":              true,
		"gzip, deflate, br":   true,
		" gzip ; q=0.001":     true,
		"gzip;q=0":            false,
		"gzip;q=0.000":        false,
		"gzip;q=nonsense":     false,
		"*":                   true,
		"*;q=0":               false,
		"br, *;q=0":           false,
		"gzip;q=0, *":         false, // gzip named: the star does not count
		"*;q=0, gzip":         true,
		"identity":            false,
		"gzipped, deflate":    false,
		"deflate, gzip;q=0.5": true,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

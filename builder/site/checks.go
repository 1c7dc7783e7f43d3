package site

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// dnsLabelRule is said after an invalid name.
const dnsLabelRule = "want a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"

// IsURL reports whether s is a remote source (has a scheme like "https://")
// rather than a local path.
func IsURL(s string) bool {
	return strings.Contains(s, "://")
}

// checkSource checks a "path or http(s) URL" field and its sha256.
// A URL must name its sha256; a path may (the build then checks it).
func checkSource(v *validator, path, value, sumPath, sum string) {
	if IsURL(value) {
		if err := checkURL(value); err != nil {
			v.errorf(path, "%v", err)
		}
		if sum == "" {
			v.errorf(sumPath, "required when %s is a URL (the build verifies the download against it)", leaf(path))
		}
	}
	if sum != "" {
		checkSHA256(v, sumPath, sum)
	}
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid URL %q", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("unsupported URL scheme %q (want http, https or a path)", u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("invalid URL %q: no host", s)
	}
	return nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func checkSHA256(v *validator, path, sum string) {
	if !sha256Hex.MatchString(sum) {
		v.errorf(path, "invalid sha256 %q: want 64 hexadecimal digits", sum)
	}
}

// resolve makes a relative local path absolute against dir; URLs and empty
// values are left as they are.
func resolve(dir, p string) string {
	if p == "" || IsURL(p) {
		return p
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// leaf is the last element of a field path: "os.base.rootfs" -> "rootfs".
func leaf(path string) string {
	return path[strings.LastIndexAny(path, ".]")+1:]
}

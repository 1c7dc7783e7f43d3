// Package report defines build-report.json: what a build produced and from
// which inputs, so an operator (and an auditor) can tell exactly what an
// appliance carries.
package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// FileName is the report's name in the output directory.
const FileName = "build-report.json"

// Report describes one build.
type Report struct {
	// Site is the site's metadata.name.
	Site string `json:"site"`
	// Config is the config file the build read.
	Config string `json:"config"`
	// SourceDateEpoch is the timestamp every file in the artifacts carries.
	SourceDateEpoch int64 `json:"sourceDateEpoch"`
	// Builder is the builder's version.
	Builder string `json:"builder"`
	// Inputs are everything the artifacts were made from.
	Inputs []Input `json:"inputs"`
	// Artifacts are the files the build wrote, relative to the output directory.
	Artifacts []Artifact `json:"artifacts"`
	// Warnings are the config's warnings.
	Warnings []string `json:"warnings,omitempty"`
}

// Input is one resolved input.
type Input struct {
	// Name says what the input is for: "base", "kernel", "bootloader", "firstboot", ...
	Name string `json:"name"`
	// Source is where it came from: a path, URL or image reference.
	Source string `json:"source"`
	// Digest is "sha256:<hex>" of the bytes used (for an OCI image, its manifest digest).
	Digest string `json:"digest"`
	// Size in bytes, when known.
	Size int64 `json:"size,omitempty"`
}

// Artifact is one file in the output directory.
type Artifact struct {
	// Kind: "raw", "os-image", "kernel", "initramfs", ...
	Kind string `json:"kind"`
	// Path is relative to the output directory.
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Details are kind-specific facts (e.g. the partition table of a raw disk).
	Details any `json:"details,omitempty"`
}

// Describe hashes the file at path and returns its Artifact entry with the
// given kind and report path.
func Describe(kind, path, reportPath string) (Artifact, error) {
	f, err := os.Open(path)
	if err != nil {
		return Artifact{}, fmt.Errorf("describe %s: %w", kind, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return Artifact{}, fmt.Errorf("describe %s: hash %s: %w", kind, path, err)
	}
	return Artifact{Kind: kind, Path: reportPath, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Marshal renders r as indented JSON with a trailing newline.
func Marshal(r *Report) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode build report: %w", err)
	}
	return append(b, '\n'), nil
}

// Package e2e holds the builder's end-to-end tests: build the example site
// configs with the real CLI, check the artifacts with tools nobody here
// wrote, and boot them in QEMU under OVMF. It has no non-test code.
package e2e

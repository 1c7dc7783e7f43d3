package diskimage

// squashfsMagic starts every squashfs image ("hsqs", little-endian).
var squashfsMagic = []byte("hsqs")

// openOSImage opens the squashfs at path, for OS-A.
func openOSImage(path string) (sourceFile, error) {
	return openSource("OS image", path, 0, squashfsMagic, "a squashfs image")
}

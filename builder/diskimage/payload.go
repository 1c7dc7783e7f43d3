package diskimage

// The image payload (firstboot/payload): an uncompressed OCI image layout
// tar whose raw bytes fill the PAYLOAD partition, read in place by the
// node. The partition is the tar's size rounded up to MiB; the padding is
// zeros, which a tar reader takes for the end of the archive anyway (the
// tar ends with two zero blocks of its own).

// tarMagic is the start of the magic field at offset 257 of a tar header,
// in the USTAR, PAX and GNU formats alike ("ustar\x0000" or "ustar  \x00");
// the first header of the payload has it.
var tarMagic = []byte("ustar")

// tarMagicOffset is where the magic field starts in a tar header.
const tarMagicOffset = 257

// openPayload opens the payload tar at path, for PAYLOAD.
func openPayload(path string) (sourceFile, error) {
	return openSource("image payload", path, tarMagicOffset, tarMagic, "a tar archive")
}

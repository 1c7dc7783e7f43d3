package diskimage

// MinSize is the size in bytes of the smallest disk that holds the layout
// with the default partition sizes, an OS image of imageSize bytes and an
// image payload of payloadSize bytes (0: none): the size Write gives an
// image when Options.Size is 0. With both sizes 0 it is the floor for any
// OS image up to half of MinDefaultOSSlotSize and no payload, which a
// site's raw size can be checked against before the image exists.
func MinSize(imageSize, payloadSize int64) (int64, error) {
	s, err := planSizes(Options{}, imageSize, payloadSize)
	if err != nil {
		return 0, err
	}
	return s.disk, nil
}

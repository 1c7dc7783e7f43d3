package diskimage

// MinSize is the size in bytes of the smallest disk that holds the layout
// with the default partition sizes and an OS image of imageSize bytes: the
// size Write gives an image when Options.Size is 0. With imageSize 0 it is
// the floor for any OS image up to half of MinDefaultOSSlotSize, which a
// site's raw size can be checked against before the image exists.
func MinSize(imageSize int64) (int64, error) {
	s, err := planSizes(Options{}, imageSize)
	if err != nil {
		return 0, err
	}
	return s.disk, nil
}

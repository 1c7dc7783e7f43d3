package smallfile

import (
	"errors"
	"io/fs"
)

// Cause drops the operation and path an *fs.PathError in err repeats, for
// a message that names the path already ("no such file or directory");
// any other error is returned as it is.
func Cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

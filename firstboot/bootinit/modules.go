package bootinit

import (
	"bufio"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// LoadModules loads the modules listed in the file orderPath, one path per
// line, top to bottom, with load. A module already loaded counts as loaded;
// a module that fails is logged and the rest still load. It returns how
// many loaded and how many failed.
func LoadModules(orderPath string, load func(path string) error, lg *log.Logger) (loaded, failed int, err error) {
	f, err := os.Open(orderPath)
	if err != nil {
		return 0, 0, fmt.Errorf("module list: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		path := strings.TrimSpace(sc.Text())
		if path == "" {
			continue
		}
		if err := load(path); err != nil && !errors.Is(err, unix.EEXIST) {
			lg.Printf("load module %s: %v", path, err)
			failed++
			continue
		}
		loaded++
	}
	if err := sc.Err(); err != nil {
		return loaded, failed, fmt.Errorf("module list %s: %w", orderPath, err)
	}
	return loaded, failed, nil
}

// FinitModule loads the module file at path with finit_module(2).
func FinitModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.FinitModule(int(f.Fd()), "", 0)
}

package progress

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is the fake clock's start.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a clock that moves only when told; safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func ptr[T any](v T) *T { return &v }

const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

// screen replays terminal output the way a terminal shows it: the visible
// lines and the cursor. It knows only the sequences the package writes and
// fails the test on any other.
type screen struct {
	lines    [][]rune
	row, col int
}

func replay(t *testing.T, out string) *screen {
	t.Helper()
	s := &screen{lines: [][]rune{nil}}
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '\r':
			s.col = 0
		case '\n':
			s.row, s.col = s.row+1, 0
			for len(s.lines) <= s.row {
				s.lines = append(s.lines, nil)
			}
		case '\x1b':
			end := i + 2
			for end < len(rs) && (rs[end] >= '0' && rs[end] <= '9') {
				end++
			}
			if i+1 >= len(rs) || rs[i+1] != '[' || end >= len(rs) {
				t.Fatalf("unterminated escape at %d in %q", i, out)
			}
			arg, cmd := string(rs[i+2:end]), rs[end]
			switch {
			case cmd == 'A':
				n, err := strconv.Atoi(arg)
				if err != nil {
					t.Fatalf("cursor up without count at %d in %q", i, out)
				}
				s.row = max(s.row-n, 0)
			case cmd == 'K' && arg == "2":
				s.lines[s.row] = nil
			case cmd == 'J' && arg == "":
				s.lines[s.row] = s.lines[s.row][:min(s.col, len(s.lines[s.row]))]
				s.lines = s.lines[:s.row+1]
			default:
				t.Fatalf("unexpected escape %q at %d in %q", "ESC["+arg+string(cmd), i, out)
			}
			i = end
		default:
			line := s.lines[s.row]
			for len(line) < s.col {
				line = append(line, ' ')
			}
			if s.col < len(line) {
				line[s.col] = r
			} else {
				line = append(line, r)
			}
			s.lines[s.row], s.col = line, s.col+1
		}
	}
	return s
}

// text returns the visible lines and a mark where the cursor is.
func (s *screen) text() string {
	var b strings.Builder
	for i, l := range s.lines {
		if i == s.row {
			fmt.Fprintf(&b, "%s<cursor at col %d>\n", string(l), s.col)
			continue
		}
		b.WriteString(string(l) + "\n")
	}
	return b.String()
}

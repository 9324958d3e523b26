package image

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// progress shows a build's stages and mmdebstrap's activity condensed to counts. On a
// terminal it keeps one status line current (stage, elapsed time, package counts, the
// latest package); elsewhere (logs, CI) it prints stage changes, mmdebstrap's own
// "I:" milestones and a count summary at most every few seconds.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	now   func() time.Time
	done  chan struct{}
	wg    sync.WaitGroup

	// mu guards the fields below and serialises writes to w.
	mu          sync.Mutex
	stage       string
	detail      string
	total       int // packages apt announced ("N newly installed"), summed over phases
	fetched     int
	unpacked    int
	configured  int
	lastSummary time.Time
	lastDraw    time.Time
	drawn       bool // a status line is on screen and must be cleared before printing
}

var (
	reNewly      = regexp.MustCompile(`(\d+) newly installed`)
	reGet        = regexp.MustCompile(`^Get:\d+ \S+ \S+ \S+ (\S+) `)
	reUnpacking  = regexp.MustCompile(`^Unpacking (\S+?)(:\S+)? `)
	reSettingUp  = regexp.MustCompile(`^Setting up (\S+?)(:\S+)? `)
	reMilestone  = regexp.MustCompile(`^[IWE]: `)
	summaryEvery = 5 * time.Second
)

func newProgress(w io.Writer) *progress {
	if w == nil {
		w = io.Discard
	}
	p := &progress{w: w, tty: isTerminal(w), start: time.Now(), now: time.Now, done: make(chan struct{})}
	if p.tty {
		// Keep the elapsed time moving while apt is quiet (long downloads, dpkg triggers).
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-p.done:
					return
				case <-t.C:
					p.mu.Lock()
					p.drawLocked()
					p.mu.Unlock()
				}
			}
		}()
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Stage starts a named step of the build.
func (p *progress) Stage(name, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stage, p.detail = name, ""
	p.printLocked(fmt.Sprintf("%-9s %s", name, fmt.Sprintf(format, args...)))
}

// Printf prints a message under the current stage.
func (p *progress) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printLocked(fmt.Sprintf("%-9s %s", "", fmt.Sprintf(format, args...)))
}

// Line takes one line of mmdebstrap's (or apt's, or dpkg's) output.
func (p *progress) Line(line string) {
	line = strings.TrimRight(line, "\r\n")
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case reNewly.MatchString(line):
		n, _ := strconv.Atoi(reNewly.FindStringSubmatch(line)[1])
		p.total += n
	case reGet.MatchString(line):
		p.fetched++
		p.detail = "fetch " + reGet.FindStringSubmatch(line)[1]
	case reUnpacking.MatchString(line):
		p.unpacked++
		p.detail = "unpack " + reUnpacking.FindStringSubmatch(line)[1]
	case reSettingUp.MatchString(line):
		p.configured++
		p.detail = "set up " + reSettingUp.FindStringSubmatch(line)[1]
	case reMilestone.MatchString(line):
		p.printLocked(fmt.Sprintf("%-9s %s", "", line))
		return
	default:
		return
	}
	if p.tty {
		if p.now().Sub(p.lastDraw) >= 100*time.Millisecond {
			p.drawLocked()
		}
		return
	}
	if p.now().Sub(p.lastSummary) >= summaryEvery {
		p.lastSummary = p.now()
		p.printLocked(fmt.Sprintf("%-9s %s", "", p.countsLocked()))
	}
}

func (p *progress) countsLocked() string {
	of := ""
	if p.total > 0 {
		of = fmt.Sprintf(" of %d", p.total)
	}
	return fmt.Sprintf("packages: %d fetched, %d unpacked, %d set up%s", p.fetched, p.unpacked, p.configured, of)
}

func (p *progress) elapsed() string {
	d := p.now().Sub(p.start).Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// printLocked prints a permanent line, clearing and then redrawing the status line.
func (p *progress) printLocked(s string) {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
	fmt.Fprintf(p.w, "image: [%5s] %s\n", p.elapsed(), s)
	if p.tty {
		p.drawLocked()
	}
}

// drawLocked redraws the terminal status line.
func (p *progress) drawLocked() {
	if !p.tty || p.stage == "" {
		return
	}
	p.lastDraw = p.now()
	s := fmt.Sprintf("image: [%5s] %s", p.elapsed(), p.stage)
	if p.fetched+p.unpacked+p.configured > 0 {
		s += " · " + p.countsLocked()
	}
	if p.detail != "" {
		s += " · " + p.detail
	}
	if len(s) > 150 {
		s = s[:150]
	}
	fmt.Fprint(p.w, "\r\x1b[K"+s)
	p.drawn = true
}

// Close stops the status line; the caller prints the outcome.
func (p *progress) Close() {
	close(p.done)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
	p.stage = ""
}

// lineWriter splits what a command writes into lines for a callback and copies it
// verbatim to a log.
type lineWriter struct {
	log  io.Writer
	fn   func(string)
	mu   sync.Mutex
	part []byte
}

func (lw *lineWriter) Write(b []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.log != nil {
		lw.log.Write(b)
	}
	lw.part = append(lw.part, b...)
	for {
		i := strings.IndexAny(string(lw.part), "\n\r")
		if i < 0 {
			break
		}
		if i > 0 {
			lw.fn(string(lw.part[:i]))
		}
		lw.part = lw.part[i+1:]
	}
	return len(b), nil
}

// Flush passes on a final line that had no newline.
func (lw *lineWriter) Flush() {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if len(lw.part) > 0 {
		lw.fn(string(lw.part))
		lw.part = nil
	}
}

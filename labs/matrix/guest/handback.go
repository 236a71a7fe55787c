package guest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"
)

// The hand-back stream on ttyS1:
//
//	MEMLAB-HANDBACK-BEGIN v1 SIZE
//	base64 of a gzip tar of /out, any line length
//	MEMLAB-HANDBACK-END MD5-OF-THE-GZIP
const (
	BeginMarker = "MEMLAB-HANDBACK-BEGIN"
	EndMarker   = "MEMLAB-HANDBACK-END"
)

var (
	// ErrNoHandBack: the stream holds no begin marker (the guest never got there).
	ErrNoHandBack = errors.New("the guest handed nothing back")
	// ErrTruncated: a begin marker without its end (the guest died mid-way).
	ErrTruncated = errors.New("the hand-back stream is truncated")
	// ErrCorrupt: the payload does not decode or does not match its size or checksum.
	ErrCorrupt = errors.New("the hand-back stream is corrupt")
)

// HandBack is the guest's /out, file by file (paths relative, "./" removed).
type HandBack struct {
	Files map[string][]byte
}

// ParseHandBack reads a hand-back stream. Lines before the begin marker and
// carriage returns a tty may add are ignored; the last complete hand-back
// wins if there are several.
func ParseHandBack(r io.Reader) (HandBack, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var (
		in       bool
		size     int64
		payload  strings.Builder
		result   *HandBack
		firstErr error
	)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimRight(sc.Text(), "\r"))
		switch {
		case strings.HasPrefix(line, BeginMarker):
			f := strings.Fields(line)
			if len(f) != 3 || f[1] != "v1" {
				return HandBack{}, fmt.Errorf("%w: begin marker %q", ErrCorrupt, line)
			}
			n, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil || n < 0 {
				return HandBack{}, fmt.Errorf("%w: begin marker %q", ErrCorrupt, line)
			}
			in, size = true, n
			payload.Reset()
		case strings.HasPrefix(line, EndMarker):
			if !in {
				return HandBack{}, fmt.Errorf("%w: end marker without begin", ErrCorrupt)
			}
			in = false
			f := strings.Fields(line)
			if len(f) != 2 {
				return HandBack{}, fmt.Errorf("%w: end marker %q", ErrCorrupt, line)
			}
			hb, err := decode(payload.String(), size, f[1])
			if err != nil {
				firstErr = err
				continue
			}
			result, firstErr = &hb, nil
		case in:
			payload.WriteString(line)
		}
	}
	if err := sc.Err(); err != nil {
		return HandBack{}, err
	}
	switch {
	case result != nil:
		return *result, nil
	case firstErr != nil:
		return HandBack{}, firstErr
	case in:
		return HandBack{}, fmt.Errorf("%w: begin marker but no end marker", ErrTruncated)
	}
	return HandBack{}, ErrNoHandBack
}

func decode(b64 string, size int64, sum string) (HandBack, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return HandBack{}, fmt.Errorf("%w: base64: %w", ErrCorrupt, err)
	}
	if int64(len(raw)) != size {
		return HandBack{}, fmt.Errorf("%w: %d bytes, the guest sent %d", ErrCorrupt, len(raw), size)
	}
	got := md5.Sum(raw)
	if hex.EncodeToString(got[:]) != strings.ToLower(sum) {
		return HandBack{}, fmt.Errorf("%w: md5 %x, the guest sent %s", ErrCorrupt, got, sum)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return HandBack{}, fmt.Errorf("%w: gzip: %w", ErrCorrupt, err)
	}
	hb := HandBack{Files: map[string][]byte{}}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return HandBack{}, fmt.Errorf("%w: tar: %w", ErrCorrupt, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." || strings.HasPrefix(name, "../") || path.IsAbs(name) {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, 256<<20))
		if err != nil {
			return HandBack{}, fmt.Errorf("%w: tar: %w", ErrCorrupt, err)
		}
		hb.Files[name] = data
	}
	return hb, nil
}

// SuiteRun is how one suite ended inside the guest.
type SuiteRun struct {
	Name    string  `json:"name"`
	Exit    int     `json:"exit"`
	Seconds float64 `json:"seconds"`
}

// Outcome is what a hand-back says.
type Outcome struct {
	Skipped bool   // the mode could not be mounted, or lacks the memory controller
	Reason  string // why
	Suites  []SuiteRun
	Reports map[string][]byte // suite name → its Ginkgo JSON report
	Logs    map[string][]byte // suite name → its output
	Env     string            // the guest's uname, cmdline, /proc/cgroups, cgroup mounts
	Uptime  float64           // guest seconds since boot when it handed back
}

// Outcome reads the files /init leaves in /out.
func (h HandBack) Outcome() (Outcome, error) {
	o := Outcome{Reports: map[string][]byte{}, Logs: map[string][]byte{}, Env: string(h.Files["env.txt"])}
	status, ok := h.Files["status"]
	if !ok {
		return o, fmt.Errorf("%w: no status file", ErrCorrupt)
	}
	st := strings.TrimSpace(string(status))
	switch {
	case st == "ok":
	case strings.HasPrefix(st, "skip "):
		o.Skipped, o.Reason = true, strings.TrimPrefix(st, "skip ")
	default:
		return o, fmt.Errorf("%w: status %q", ErrCorrupt, st)
	}
	o.Uptime, _ = strconv.ParseFloat(strings.TrimSpace(string(h.Files["uptime"])), 64)
	for line := range strings.SplitSeq(string(h.Files["suites.txt"]), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		exit, _ := strconv.Atoi(f[1])
		start, _ := strconv.ParseFloat(f[2], 64)
		end, _ := strconv.ParseFloat(f[3], 64)
		o.Suites = append(o.Suites, SuiteRun{Name: f[0], Exit: exit, Seconds: math.Round((end-start)*100) / 100})
	}
	for name, data := range h.Files {
		if base, ok := strings.CutSuffix(name, ".json"); ok && !strings.Contains(base, "/") {
			o.Reports[base] = data
		}
		if base, ok := strings.CutSuffix(name, ".log"); ok && !strings.Contains(base, "/") {
			o.Logs[base] = data
		}
	}
	return o, nil
}

// Console is what the host reads from a guest's console log.
type Console struct {
	Booted  float64 // guest uptime when /init started (0 if it never did)
	Release string  // uname -r the guest printed
	Panic   string  // the "Kernel panic" line, if any
}

// ParseConsole scans a console log for /init's markers and a kernel panic.
func ParseConsole(text string) Console {
	var c Console
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if i := strings.Index(line, "MEMLAB-BOOTED "); i >= 0 {
			f := strings.Fields(line[i:])
			if len(f) >= 2 {
				c.Booted, _ = strconv.ParseFloat(f[1], 64)
			}
			if len(f) >= 3 {
				c.Release = f[2]
			}
		}
		if c.Panic == "" && strings.Contains(line, "Kernel panic") {
			c.Panic = strings.TrimSpace(line)
		}
	}
	return c
}

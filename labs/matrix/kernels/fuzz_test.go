package kernels

import (
	"os"
	"strings"
	"testing"
)

// valid is what every Source a list yields must be: a usable name and
// either a Debian suite and package or a path.
func valid(t *testing.T, s Source) {
	t.Helper()
	debian := s.Suite != "" && s.Package != ""
	if !nameRE.MatchString(s.Name) || debian == (s.Path != "") || !debian && (s.Suite != "" || s.Package != "") {
		t.Fatalf("parsed an unusable source %+v", s)
	}
}

func FuzzParseList(f *testing.F) {
	if b, err := os.ReadFile("../../../fixtures/kernels.txt"); err == nil {
		f.Add(string(b))
	}
	f.Add("old debian:bookworm/linux-image-6.1.0-9-cloud-amd64 # pinned\nxenial /srv/vmlinuz-4.4.0-117-generic\ndebian:trixie\n")
	f.Add("a=b /k/bzImage\n")
	f.Fuzz(func(t *testing.T, list string) {
		srcs, err := ParseList(strings.NewReader(list))
		if err != nil {
			return
		}
		var named []string // the NAME column of each two-column line, in order
		for line := range strings.SplitSeq(list, "\n") {
			line, _, _ = strings.Cut(line, "#")
			if f := strings.Fields(line); len(f) == 2 {
				named = append(named, f[0])
			} else if len(f) == 1 {
				named = append(named, "")
			}
		}
		if len(named) != len(srcs) {
			t.Fatalf("%d sources from %d entries", len(srcs), len(named))
		}
		seen := map[string]bool{}
		for i, s := range srcs {
			valid(t, s)
			if named[i] != "" && s.Name != named[i] {
				t.Fatalf("line names %q, the source is named %q: %+v", named[i], s.Name, s)
			}
			if seen[s.Name] {
				t.Fatalf("name %q twice", s.Name)
			}
			seen[s.Name] = true
			// What the matrix prints of a source reads back as the same source.
			if again, err := ParseEntry(s.Name + "=" + s.String()); err != nil || again != s {
				t.Fatalf("%+v prints as %s=%s, which reads back as %+v, %v", s, s.Name, s, again, err)
			}
		}
	})
}

func FuzzParseEntries(f *testing.F) {
	f.Add("path/to/vmlinuz-5.4.0-x, mine=/k/bzImage debian:bookworm")
	f.Add("bookworm=debian:bookworm,xenial44=/work/shared/kernels/linux-4.4/bzImage")
	f.Fuzz(func(t *testing.T, list string) {
		srcs, err := ParseEntries(list)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range srcs {
			valid(t, s)
			if seen[s.Name] {
				t.Fatalf("name %q twice", s.Name)
			}
			seen[s.Name] = true
		}
	})
}

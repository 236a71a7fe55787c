package shquote

import (
	"os/exec"
	"strings"
	"testing"
)

var words = []string{
	"", "stress", "--vm-bytes", "100m", "/usr/bin/env", "a b", "it's", `"x"`, "$HOME", "`id`", "a;b", "a|b",
	"*", "?", "~", "!docker", "cgroup:v2 && !docker || 'x'", "tab\there", "new\nline", "back\\slash", "ünï", "{a,b}", "[x]", "#c", "a=b",
}

func TestPlainWordsStayAsTyped(t *testing.T) {
	for _, w := range []string{"stress", "--vm-bytes", "100m", "/usr/bin/env", "cgroup:v2", "a=b", "x,y", "user@host"} {
		if got := Quote(w); got != w {
			t.Errorf("Quote(%q) = %s; want it bare", w, got)
		}
	}
	if got := Join([]string{"sh", "-c", "exit 3"}); got != "sh -c 'exit 3'" {
		t.Errorf("Join = %s", got)
	}
}

// The shell is the judge: every word must come back from sh as it went in.
func TestTheShellReadsEachWordBack(t *testing.T) {
	script := "set -- " + Join(words) + `; for w; do printf '%s\0' "$w"; done`
	ran := 0
	for _, shell := range [][]string{{"sh"}, {"bash"}, {"dash"}, {"busybox", "sh"}} {
		path, err := exec.LookPath(shell[0])
		if err != nil {
			continue
		}
		ran++
		out, err := exec.Command(path, append(shell[1:], "-c", script)...).Output()
		if err != nil {
			t.Fatalf("%s: %v", shell, err)
		}
		got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		if len(got) != len(words) {
			t.Fatalf("%s read %d words back, want %d: %q", shell, len(got), len(words), got)
		}
		for i := range words {
			if got[i] != words[i] {
				t.Errorf("%s: %s read back as %q, want %q", shell, Quote(words[i]), got[i], words[i])
			}
		}
	}
	if ran == 0 {
		t.Fatal("no shell on PATH to read the words back")
	}
}

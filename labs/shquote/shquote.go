// Package shquote writes words so that a POSIX shell reads them back
// unchanged: for a command line a person can paste, and for a file a shell
// sources. A word made only of characters no shell treats specially stays
// as it is, so the usual command reads as it was typed.
package shquote

import "strings"

// Quote returns s as one shell word.
func Quote(s string) string {
	if s != "" && strings.Trim(s, safe) == "" {
		return s
	}
	// Inside single quotes nothing is special but the quote itself, which
	// is closed, escaped and reopened.
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each word of argv and joins them with spaces.
func Join(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// safe are the characters no POSIX shell gives a meaning to inside a word
// (Python's shlex.quote keeps the same set bare).
const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-"

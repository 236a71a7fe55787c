package matrix

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/memlab/memlab/fixtures"
)

// FuzzParseBaseline: any input either is refused as ErrBadBaseline or is a
// baseline with cells, each holding at least one real verdict, that reads
// back the same after writing.
func FuzzParseBaseline(f *testing.F) {
	f.Add(fixtures.MatrixBaseline)
	for _, s := range []string{"", "null", "[]", "{}", `{"cells":{}}`, `{"cells":{"a/v1":{"G1":"banana"}}}`,
		`{"cells":{"a/v1":{"G1":"-"}}}`, `{"cells":{"a/v1":{"G1":"holds"}}}`, `{"cells":{"a/v1":null}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBaseline("fuzz", data)
		if err != nil {
			if !errors.Is(err, ErrBadBaseline) {
				t.Fatalf("error %v is not ErrBadBaseline", err)
			}
			return
		}
		if len(b.Cells) == 0 {
			t.Fatal("accepted a baseline with no cells")
		}
		for id, row := range b.Cells {
			real := 0
			for claim, v := range row {
				if !baselineVerdicts[v] {
					t.Fatalf("%s %s: accepted %q", id, claim, v)
				}
				if v != NotRun {
					real++
				}
			}
			if real == 0 {
				t.Fatalf("%s: accepted a cell with no verdict", id)
			}
		}
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseBaseline("again", js); err != nil {
			t.Fatalf("an accepted baseline does not read back: %v", err)
		}
	})
}

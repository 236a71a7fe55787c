package rawcgroup_test

import (
	"fmt"
	"os"
	"strconv"

	. "github.com/onsi/gomega"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/specs/claim"
)

var _ = claim.Describe("G1", func(m claim.Mode) string {
	return fmt.Sprintf(`"100m" written to %s reads back as 104857600`, m.Files.Limit)
}, func(m claim.Mode) {
	g := claim.Group(m.Lab(), "g1")
	// Raw, as the article does it: the kernel itself parses the suffix.
	Expect(g.WriteFile(m.Files.Limit, "100m")).To(Succeed())
	back, err := g.ReadFile(m.Files.Limit)
	Expect(err).NotTo(HaveOccurred())
	Expect(back).To(Equal("104857600"))

	// docker run -m reads "100m" with go-units; it must mean the same.
	docker, err := cgroup.ParseSize("100m")
	Expect(err).NotTo(HaveOccurred())
	Expect(strconv.FormatInt(docker, 10)).To(Equal(back))

	// The kernel keeps whole pages: an odd byte count is rounded down.
	page := int64(os.Getpagesize())
	Expect(g.WriteFile(m.Files.Limit, "100001")).To(Succeed())
	odd, err := g.ReadFile(m.Files.Limit)
	Expect(err).NotTo(HaveOccurred())
	Expect(odd).To(Equal(strconv.FormatInt(100001/page*page, 10)))

	claim.Figure(`"100m" reads back`, back, m.Files.Limit)
	claim.Figure(fmt.Sprintf(`"100001" reads back (whole %d-byte pages)`, page), odd, m.Files.Limit)
	claim.Holds("the kernel parses the suffix itself; 100m = 100 MiB, as docker's go-units reads it")
})

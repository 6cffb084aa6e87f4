package guest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParse(t *testing.T) {
	assert.Equal(t, Info{InGuest: true, Variant: "hardened", Arch: "arm64"}, Parse("console=ttyS0 nsbench.variant=hardened nsbench.arch=arm64 quiet"))
	assert.Equal(t, Info{}, Parse("BOOT_IMAGE=/vmlinuz root=/dev/vda1"))
	assert.False(t, Detect().InGuest, "the tests run on a host, not in an nsbench guest")
}

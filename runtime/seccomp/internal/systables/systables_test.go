package systables

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTbl(t *testing.T) {
	es, err := ParseTbl(strings.NewReader("# comment\n\n0\tcommon\tread\tsys_read\n512\tx32\trt_sigaction\tcompat_sys_rt_sigaction\n13\t64\trt_sigaction\tsys_rt_sigaction # tail\n"))
	require.NoError(t, err)
	assert.Equal(t, []TblEntry{{0, "common", "read"}, {512, "x32", "rt_sigaction"}, {13, "64", "rt_sigaction"}}, es)
	assert.Equal(t, []TblEntry{{0, "common", "read"}, {512, "x32", "rt_sigaction"}}, Select(es, "common", "x32"))

	_, err = ParseTbl(strings.NewReader("12 common\n"))
	assert.ErrorContains(t, err, "line 1")
	_, err = ParseTbl(strings.NewReader("x common read\n"))
	assert.Error(t, err)
	_, err = ParseTbl(strings.NewReader("# nothing\n"))
	assert.ErrorContains(t, err, "no entries")
}

func TestParseXSys(t *testing.T) {
	src := "package unix\n\nconst (\n\tSYS_READ = 0\n\tSYS__LLSEEK = 140\n\tSYS_SET_TLS = 0xf0005\n\tOTHER = 3\n)\n"
	m, err := ParseXSys("z.go", []byte(src))
	require.NoError(t, err)
	assert.Equal(t, map[string]int32{"read": 0, "_llseek": 140, "set_tls": 0xf0005}, m)

	_, err = ParseXSys("z.go", []byte("package unix\nconst SYS_X = \"a\"\n"))
	assert.ErrorContains(t, err, "not an integer literal")
	_, err = ParseXSys("z.go", []byte("package unix\n"))
	assert.ErrorContains(t, err, "no SYS_ constants")
}

func TestParseARMUnistd(t *testing.T) {
	hdr := `#define __NR_OABI_SYSCALL_BASE	0x900000
#define __NR_SYSCALL_MASK	0x0fffff
#if defined(__thumb__) || defined(__ARM_EABI__)
#define __NR_SYSCALL_BASE	0
#else
#define __NR_SYSCALL_BASE	__NR_OABI_SYSCALL_BASE
#endif
#define __NR_sync_file_range2		__NR_arm_sync_file_range
#define __ARM_NR_BASE			(__NR_SYSCALL_BASE+0x0f0000)
#define __ARM_NR_breakpoint		(__ARM_NR_BASE+1)
#define __ARM_NR_set_tls		(__ARM_NR_BASE+5)
`
	info, err := ParseARMUnistd(strings.NewReader(hdr))
	require.NoError(t, err)
	assert.Equal(t, map[string]int32{"breakpoint": 0x0f0001, "set_tls": 0x0f0005}, info.Private, "EABI's base, not OABI's")
	assert.Equal(t, map[string]string{"sync_file_range2": "arm_sync_file_range"}, info.Aliases)
	assert.Equal(t, map[string]bool{"oabi_syscall_base": true, "syscall_mask": true, "syscall_base": true}, info.Constants)

	_, err = ParseARMUnistd(strings.NewReader("#define __ARM_NR_x (__NOPE+1)\n"))
	assert.ErrorContains(t, err, `unknown macro "__NOPE"`)
}

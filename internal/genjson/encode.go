package genjson

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Encoder writes JSON for generated code, byte for byte as json.Marshal
// writes the same values (HTML characters escaped, map keys sorted, floats
// formatted alike); runtime/spec's FuzzEncodeMatchesEncodingJSON holds it
// to that.
type Encoder struct {
	buf []byte
	err error
}

// Bytes returns what was written.
func (e *Encoder) Bytes() []byte { return e.buf }

// Err is the first error (a float that JSON cannot hold, or an interface
// value json.Marshal refuses).
func (e *Encoder) Err() error { return e.err }

// Raw writes s as it is: punctuation and pre-encoded keys.
func (e *Encoder) Raw(s string) { e.buf = append(e.buf, s...) }

// Bool writes true or false.
func (e *Encoder) Bool(b bool) { e.buf = strconv.AppendBool(e.buf, b) }

// Int writes n.
func (e *Encoder) Int(n int64) { e.buf = strconv.AppendInt(e.buf, n, 10) }

// Uint writes n.
func (e *Encoder) Uint(n uint64) { e.buf = strconv.AppendUint(e.buf, n, 10) }

// Float writes f as encoding/json does for a float of bits.
func (e *Encoder) Float(f float64, bits int) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		if e.err == nil {
			e.err = fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, bits))
		}
		e.buf = append(e.buf, '0')
		return
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	e.buf = strconv.AppendFloat(e.buf, f, format, -1, bits)
	if format == 'e' {
		// e-09 as e-9
		if n := len(e.buf); n >= 4 && e.buf[n-4] == 'e' && e.buf[n-3] == '-' && e.buf[n-2] == '0' {
			e.buf[n-2] = e.buf[n-1]
			e.buf = e.buf[:n-1]
		}
	}
}

// Any writes an interface's dynamic value with json.Marshal: only the
// value's own types meet reflection.
func (e *Encoder) Any(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		if e.err == nil {
			e.err = err
		}
		e.buf = append(e.buf, "null"...)
		return
	}
	e.buf = append(e.buf, data...)
}

const hexDigits = "0123456789abcdef"

// String writes s quoted: ", \ and control characters escaped, <, > and &
// as \u003c, \u003e and \u0026, U+2028 and U+2029 escaped, and each byte
// of invalid UTF-8 as \ufffd.
func (e *Encoder) String(s string) {
	b := append(e.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	e.buf = append(b, '"')
}

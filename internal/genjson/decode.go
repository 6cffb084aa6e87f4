// Package genjson is what code generated per type (runtime/spec's
// json_gen.go, by runtime/spec/internal/jsongen) decodes and encodes JSON
// with, without reflection.
//
// encoding/json builds its per-type tables (field lists, name maps,
// encoders) with reflection the first time it meets a type, and a process
// that decodes or encodes a config once pays all of that once: for an OCI
// config, about 1 ms of CPU here, in nsrun and again in its init, both on
// a container's start path. Generated code walks the same types without
// that set-up.
//
// Decoding accepts and refuses what encoding/json does when decoding into
// the same Go types, and produces the same values: the same grammar and
// nesting limit, null leaves a value alone (and clears pointers, slices,
// maps and interfaces), keys match exactly first and then without regard
// to case, a repeated key decodes again into what the first left, invalid
// UTF-8 in strings becomes U+FFFD, numbers must fit the field, and an
// interface gets map[string]any, []any, float64, string or bool. What
// differs is the error text, and that decoding stops at the first error.
// Encoding writes what json.Marshal writes, byte for byte. runtime/spec's
// differential tests and fuzzers hold both to that.
//
// decode.go is over 600 lines because matching encoding/json takes its
// whole grammar, string unescaping and error positions in one place.
package genjson

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// SyntaxError is malformed JSON at byte Offset.
type SyntaxError struct {
	Msg    string
	Offset int64
}

func (e *SyntaxError) Error() string { return e.Msg }

// TypeError is a JSON value that does not fit the Go field it is decoded
// into.
type TypeError struct {
	Value  string // "string", "number 1.5", "object", ...
	Type   string // the Go type
	Field  string // the JSON path, dot-separated
	Offset int64
}

func (e *TypeError) Error() string {
	if e.Field == "" {
		return "cannot unmarshal " + e.Value + " into a value of type " + e.Type
	}
	return "cannot unmarshal " + e.Value + " into field " + e.Field + " of type " + e.Type
}

// Decoder reads one JSON text. Its methods do nothing once an error
// occurred; Err reports it.
type Decoder struct {
	data  []byte
	pos   int
	depth int
	path  []string
	err   error
}

// New returns a decoder of data.
func New(data []byte) *Decoder { return &Decoder{data: data} }

// Err is the first error, or nil.
func (d *Decoder) Err() error { return d.err }

// Offset is the number of bytes read.
func (d *Decoder) Offset() int64 { return int64(d.pos) }

// Push enters a field of the value being decoded, for error messages.
func (d *Decoder) Push(name string) { d.path = append(d.path, name) }

// Pop leaves the field Push entered.
func (d *Decoder) Pop() { d.path = d.path[:len(d.path)-1] }

func (d *Decoder) syntax(msg string) {
	if d.err == nil {
		d.err = &SyntaxError{Msg: msg, Offset: int64(d.pos)}
	}
}

func (d *Decoder) unexpected(what string) {
	if d.pos >= len(d.data) {
		d.syntax("unexpected end of JSON input")
		return
	}
	d.syntax(fmt.Sprintf("invalid character %s %s", quoteChar(d.data[d.pos]), what))
}

func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	return "'" + q[1:len(q)-1] + "'"
}

// mismatch records a type error for the value at the current position and
// skips it, so that the offset points behind it as encoding/json's does.
func (d *Decoder) mismatch(goType string) {
	if d.err != nil {
		return
	}
	start := d.pos
	kind := d.kind()
	d.Skip()
	if d.err != nil {
		return
	}
	if kind == "number" {
		kind = "number " + string(d.data[start:d.pos])
	}
	d.err = &TypeError{Value: kind, Type: goType, Field: strings.Join(d.path, "."), Offset: int64(d.pos)}
}

func (d *Decoder) kind() string {
	switch d.peek() {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	}
	return "number"
}

func (d *Decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace, or 0 at the end.
func (d *Decoder) peek() byte {
	d.ws()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

func (d *Decoder) literal(word string) bool {
	for i := 0; i < len(word); i++ {
		if d.pos >= len(d.data) || d.data[d.pos] != word[i] {
			d.unexpected("in literal " + word + " (expecting " + quoteChar(word[i]) + ")")
			return false
		}
		d.pos++
	}
	return true
}

// Null consumes a null and reports whether there was one.
func (d *Decoder) Null() bool {
	if d.err != nil {
		return true
	}
	if d.peek() != 'n' {
		return false
	}
	d.literal("null")
	return true
}

// Object decodes an object, calling field for each key; field decodes the
// value and returns true, or returns false for a key it does not know.
// Such a key is tried again as the name in names it equals without regard
// to case, if any, and its value skipped otherwise.
func (d *Decoder) Object(goType string, names []string, field func(key string) bool) {
	if d.err != nil {
		return
	}
	if d.peek() != '{' {
		d.mismatch(goType)
		return
	}
	d.members(func(key string) {
		if field(key) || d.err != nil {
			return
		}
		for _, n := range names {
			if strings.EqualFold(n, key) {
				field(n)
				return
			}
		}
		d.Skip()
	})
}

// Map decodes an object whose keys are data: value is called for each.
func (d *Decoder) Map(goType string, value func(key string)) {
	if d.err != nil {
		return
	}
	if d.peek() != '{' {
		d.mismatch(goType)
		return
	}
	d.members(value)
}

func (d *Decoder) members(value func(key string)) {
	d.pos++ // '{'
	if !d.enter() {
		return
	}
	defer d.leave()
	if d.peek() == '}' {
		d.pos++
		return
	}
	for d.err == nil {
		if d.peek() != '"' {
			d.unexpected("looking for beginning of object key string")
			return
		}
		key := d.str()
		if d.peek() != ':' {
			d.unexpected("after object key")
			return
		}
		d.pos++
		d.peekValue()
		value(key)
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return
		default:
			d.unexpected("after object key:value pair")
			return
		}
	}
}

// peekValue checks that a value starts here, for the error encoding/json
// gives when it does not.
func (d *Decoder) peekValue() {
	switch c := d.peek(); {
	case c == '{' || c == '[' || c == '"' || c == 't' || c == 'f' || c == 'n' || c == '-' || (c >= '0' && c <= '9'):
	default:
		d.unexpected("looking for beginning of value")
	}
}

func (d *Decoder) enter() bool {
	d.depth++
	if d.depth > maxDepth {
		d.syntax("exceeded max depth")
		return false
	}
	return true
}

func (d *Decoder) leave() { d.depth-- }

// Array decodes an array, calling elem for each element.
func (d *Decoder) Array(goType string, elem func()) {
	if d.err != nil {
		return
	}
	if d.peek() != '[' {
		d.mismatch(goType)
		return
	}
	d.pos++
	if !d.enter() {
		return
	}
	defer d.leave()
	if d.peek() == ']' {
		d.pos++
		return
	}
	for d.err == nil {
		d.peekValue()
		elem()
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return
		default:
			d.unexpected("after array element")
			return
		}
	}
}

// String decodes a string.
func (d *Decoder) String(goType string) string {
	if d.err != nil {
		return ""
	}
	if d.peek() != '"' {
		d.mismatch(goType)
		return ""
	}
	return d.str()
}

// Bool decodes true or false.
func (d *Decoder) Bool(goType string) bool {
	if d.err != nil {
		return false
	}
	switch d.peek() {
	case 't':
		return d.literal("true")
	case 'f':
		d.literal("false")
		return false
	}
	d.mismatch(goType)
	return false
}

// number consumes a number and returns its text, or "" after a type
// error for anything else.
func (d *Decoder) number(goType string) string {
	if d.err != nil {
		return ""
	}
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		d.mismatch(goType)
		return ""
	}
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.pos < len(d.data) && d.data[d.pos] == '0':
		d.pos++
	case d.pos < len(d.data) && d.data[d.pos] >= '1' && d.data[d.pos] <= '9':
		d.digits()
	default:
		d.unexpected("in numeric literal")
		return ""
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if d.pos >= len(d.data) || d.data[d.pos] < '0' || d.data[d.pos] > '9' {
			d.unexpected("after decimal point in numeric literal")
			return ""
		}
		d.digits()
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if d.pos >= len(d.data) || d.data[d.pos] < '0' || d.data[d.pos] > '9' {
			d.unexpected("in exponent of numeric literal")
			return ""
		}
		d.digits()
	}
	return string(d.data[start:d.pos])
}

func (d *Decoder) digits() {
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
}

func (d *Decoder) numberError(text, goType string) {
	if d.err == nil {
		d.err = &TypeError{Value: "number " + text, Type: goType, Field: strings.Join(d.path, "."), Offset: int64(d.pos)}
	}
}

// Int decodes an integer that fits in bits.
func (d *Decoder) Int(bits int, goType string) int64 {
	text := d.number(goType)
	if d.err != nil {
		return 0
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || (bits < 64 && (n < -1<<(bits-1) || n >= 1<<(bits-1))) {
		d.numberError(text, goType)
		return 0
	}
	return n
}

// Uint decodes a non-negative integer that fits in bits.
func (d *Decoder) Uint(bits int, goType string) uint64 {
	text := d.number(goType)
	if d.err != nil {
		return 0
	}
	n, err := strconv.ParseUint(text, 10, 64)
	if err != nil || (bits < 64 && n >= 1<<bits) {
		d.numberError(text, goType)
		return 0
	}
	return n
}

// Float decodes a number that fits in a float of bits.
func (d *Decoder) Float(bits int, goType string) float64 {
	text := d.number(goType)
	if d.err != nil {
		return 0
	}
	f, err := strconv.ParseFloat(text, bits)
	if err != nil {
		d.numberError(text, goType)
		return 0
	}
	return f
}

// Any decodes any value as encoding/json does into an interface.
func (d *Decoder) Any() any {
	if d.err != nil {
		return nil
	}
	switch c := d.peek(); c {
	case '{':
		m := map[string]any{}
		d.members(func(key string) { m[key] = d.Any() })
		return m
	case '[':
		a := []any{}
		d.Array("[]interface {}", func() { a = append(a, d.Any()) })
		return a
	case '"':
		return d.str()
	case 't', 'f':
		return d.Bool("bool")
	case 'n':
		d.literal("null")
		return nil
	default:
		if c != '-' && (c < '0' || c > '9') {
			d.unexpected("looking for beginning of value")
			return nil
		}
		return d.Float(64, "float64")
	}
}

// Skip consumes one value of any kind, checking its syntax.
func (d *Decoder) Skip() {
	if d.err != nil {
		return
	}
	switch c := d.peek(); c {
	case '{':
		d.members(func(string) { d.Skip() })
	case '[':
		d.Array("", d.Skip)
	case '"':
		d.str()
	case 't':
		d.literal("true")
	case 'f':
		d.literal("false")
	case 'n':
		d.literal("null")
	default:
		if c != '-' && (c < '0' || c > '9') {
			d.unexpected("looking for beginning of value")
			return
		}
		d.number("")
	}
}

// End checks that only whitespace follows the value.
func (d *Decoder) End() bool {
	if d.err != nil {
		return false
	}
	d.ws()
	return d.pos == len(d.data)
}

// str decodes the string literal at d.pos (a '"').
func (d *Decoder) str() string {
	d.pos++
	start := d.pos
	// The common case: no escapes, valid UTF-8.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := d.data[start:d.pos]
			d.pos++
			return validUTF8(s)
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.pos++
	}
	var b []byte
	b = append(b, d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return validUTF8(b)
		case c < 0x20:
			d.unexpected("in string literal")
			return ""
		case c == '\\':
			d.pos++
			if d.pos >= len(d.data) {
				d.unexpected("in string escape code")
				return ""
			}
			switch e := d.data[d.pos]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := d.hex4(d.pos + 1)
				if !ok {
					return ""
				}
				d.pos += 4
				if utf16.IsSurrogate(r) {
					if r2, ok2 := d.surrogate(d.pos + 1); ok2 {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							d.pos += 6
							b = utf8.AppendRune(b, dec)
							break
						}
					}
					if d.err != nil {
						return ""
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
			default:
				d.unexpected("in string escape code")
				return ""
			}
			d.pos++
		default:
			b = append(b, c)
			d.pos++
		}
	}
	d.syntax("unexpected end of JSON input")
	return ""
}

// hex4 reads the four hex digits of a \u escape at i.
func (d *Decoder) hex4(i int) (rune, bool) {
	var r rune
	for k := 0; k < 4; k++ {
		if i+k >= len(d.data) {
			d.pos = len(d.data)
			d.syntax("unexpected end of JSON input")
			return 0, false
		}
		c := d.data[i+k]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			d.pos = i + k
			d.unexpected("in \\u hexadecimal character escape")
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

// surrogate reads a following \uXXXX at i, if there is one.
func (d *Decoder) surrogate(i int) (rune, bool) {
	if i+1 >= len(d.data) || d.data[i] != '\\' || d.data[i+1] != 'u' {
		return 0, false
	}
	r, ok := d.hex4(i + 2)
	return r, ok
}

// validUTF8 replaces every byte that is not part of valid UTF-8 with
// U+FFFD, one each, as encoding/json does.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}

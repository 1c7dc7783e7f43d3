package bootparam

import "bytes"

// ParseCmdline splits a kernel command line into key=value pairs exactly as
// the kernel splits its own (Linux lib/cmdline.c next_arg, which
// parse_args in kernel/params.c calls for every argument), so that the init
// and firstboot see the arguments the kernel saw, whatever the line holds:
//
//   - arguments are separated by runs of blanks: \t \n \v \f \r, space and
//     the byte 0xA0 (lib/ctype.c marks all of them _S);
//   - a double quote starts or ends a stretch where blanks do not separate;
//     an argument's leading quote is dropped with the quote that ends it,
//     as is a value's ("key=\"a b\"" is key, "a b"); other quotes stay;
//   - the key is what comes before the first '=' past the argument's first
//     byte; an argument without one maps to "";
//   - a NUL ends the line, as it ends the kernel's C string.
//
// Later keys win. Arguments the builder writes keep to CheckArg's grammar,
// for which all of this reduces to splitting at single spaces.
func ParseCmdline(cmdline string) map[string]string {
	b := []byte(cmdline)
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	b = append(b, 0) // the C string's terminator: next_arg writes NULs into it
	args := map[string]string{}
	for p := skipSpaces(b, 0); b[p] != 0; {
		var param, val int
		p, param, val = nextArg(b, p)
		value := ""
		if val >= 0 {
			value = cString(b, val)
		}
		args[cString(b, param)] = value
	}
	return args
}

// isSpace is the kernel's isspace (lib/ctype.c): \t \n \v \f \r, space and
// 0xA0.
func isSpace(c byte) bool {
	return c == ' ' || ('\t' <= c && c <= '\r') || c == 0xa0
}

func skipSpaces(b []byte, p int) int {
	for isSpace(b[p]) {
		p++
	}
	return p
}

// cString is the NUL-terminated string at b[p:].
func cString(b []byte, p int) string {
	return string(b[p : p+bytes.IndexByte(b[p:], 0)])
}

// nextArg is next_arg of lib/cmdline.c on the NUL-terminated b from a (at a
// byte that is neither a blank nor NUL): it terminates the parameter and
// the value in place and returns where the next argument starts, where the
// parameter starts and where the value starts (-1 for none).
func nextArg(b []byte, a int) (next, param, val int) {
	inQuote, quoted := false, false
	if b[a] == '"' {
		a++
		inQuote, quoted = true, true
	}
	i, equals := 0, 0
	for ; b[a+i] != 0; i++ {
		c := b[a+i]
		if isSpace(c) && !inQuote {
			break
		}
		if equals == 0 && c == '=' {
			equals = i
		}
		if c == '"' {
			inQuote = !inQuote
		}
	}
	// With quoted, a+i-1 is at least the dropped quote, never before b.
	param, val = a, -1
	if equals != 0 {
		b[a+equals] = 0
		val = a + equals + 1
		if b[val] == '"' {
			val++
			if b[a+i-1] == '"' {
				b[a+i-1] = 0
			}
		}
	}
	if quoted && b[a+i-1] == '"' {
		b[a+i-1] = 0
	}
	next = a + i
	if b[next] != 0 {
		b[next] = 0
		next++
	}
	return skipSpaces(b, next), param, val
}

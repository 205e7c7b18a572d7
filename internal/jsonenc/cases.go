package jsonenc

// EscapeCases are strings encoding/json escapes in every way it knows, for
// the tests of every encoder that must write what encoding/json writes.
var EscapeCases = []string{
	"", "plain", `quo"te`, `back\slash`, "<script>&</script>", "tab\tnew\nline\rret",
	"\b\f\x00\x01\x1f\x7f", "Zoë Müller 日本 😀", "\u2028\u2029", "bad \xff utf-8 \xc3", "é\xe2\x82",
	"https://gw.example/track/ord_1?token=a&b=c",
}

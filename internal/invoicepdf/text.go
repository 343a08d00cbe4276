package invoicepdf

import (
	"strings"
	"unicode"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// The PDF uses the core Helvetica fonts, whose encoding is Windows-1252
// (no font file to ship or embed). Text is folded into it: what the code
// page has is kept; accented letters it lacks lose the accent (NFKD);
// Latin letters with no decomposition and Cyrillic are transliterated;
// anything else becomes "?". So a name in any
// script renders, never fails, and a reader of the PDF sees it as close as
// the code page allows. Control characters become spaces.
func cp1252(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if c, ok := encode(r); ok {
			b.WriteByte(c)
			continue
		}
		if t, ok := plain[r]; ok {
			b.WriteString(t)
			continue
		}
		folded := false
		for _, d := range norm.NFKD.String(string(r)) {
			if unicode.Is(unicode.Mn, d) {
				continue
			}
			if c, ok := encode(d); ok && d != r {
				b.WriteByte(c)
				folded = true
			}
		}
		if !folded {
			b.WriteByte('?')
		}
	}
	return b.String()
}

func encode(r rune) (byte, bool) {
	if unicode.IsControl(r) {
		return ' ', true
	}
	if r == unicode.ReplacementChar {
		return 0, false
	}
	return charmap.Windows1252.EncodeRune(r)
}

// plain spells letters NFKD leaves whole: Latin ones with a stroke or bar,
// and the Russian, Ukrainian and Belarusian Cyrillic letters (close to the
// common passport scheme).
var plain = func() map[rune]string {
	pairs := []string{
		"Ł", "L", "Đ", "D", "Ħ", "H", "Ŧ", "T", "Ŀ", "L", "Ŋ", "N", "Ɨ", "I", "Ƶ", "Z", "Ǥ", "G",
		"А", "A", "Б", "B", "В", "V", "Г", "G", "Д", "D", "Е", "E", "Ё", "E", "Ж", "Zh", "З", "Z", "И", "I",
		"Й", "Y", "К", "K", "Л", "L", "М", "M", "Н", "N", "О", "O", "П", "P", "Р", "R", "С", "S", "Т", "T",
		"У", "U", "Ф", "F", "Х", "Kh", "Ц", "Ts", "Ч", "Ch", "Ш", "Sh", "Щ", "Shch", "Ъ", "", "Ы", "Y", "Ь", "",
		"Э", "E", "Ю", "Yu", "Я", "Ya", "Є", "Ye", "І", "I", "Ї", "Yi", "Ґ", "G", "Ў", "U",
	}
	m := make(map[rune]string, len(pairs))
	for i := 0; i < len(pairs); i += 2 {
		up := []rune(pairs[i])[0]
		m[up] = pairs[i+1]
		m[unicode.ToLower(up)] = strings.ToLower(pairs[i+1])
	}
	return m
}()

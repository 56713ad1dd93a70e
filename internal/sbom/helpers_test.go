package sbom

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// fixtures are the documents every format test runs on.
func fixtures() []struct {
	name string
	doc  Document
} {
	return []struct {
		name string
		doc  Document
	}{
		{"package", packageDocument()},
		{"host", hostDocument()},
	}
}

func encode(t testing.TB, d Document, f Format) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, d, f); err != nil {
		t.Fatalf("Write(%s): %v", f, err)
	}
	return buf.Bytes()
}

// lineDiff is a small line-oriented diff for failure messages: the first
// lines that differ, with a little context.
func lineDiff(want, got string) string {
	wl := strings.Split(want, "\n")
	gl := strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w == g {
			continue
		}
		fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, w, g)
		if shown++; shown == 10 {
			b.WriteString("  …\n")
			break
		}
	}
	if len(wl) != len(gl) {
		fmt.Fprintf(&b, "(%d lines wanted, %d got)\n", len(wl), len(gl))
	}
	return b.String()
}

// deepDiff lists the paths at which a and b differ (reflect.DeepEqual's
// notion of equality, unexported fields included), at most max of them.
func deepDiff(a, b any, max int) []string {
	var out []string
	var walk func(path string, x, y reflect.Value)
	walk = func(path string, x, y reflect.Value) {
		if len(out) >= max {
			return
		}
		if x.IsValid() != y.IsValid() || x.IsValid() && x.Type() != y.Type() {
			out = append(out, fmt.Sprintf("%s: %v vs %v", path, x, y))
			return
		}
		if !x.IsValid() {
			return
		}
		switch x.Kind() {
		case reflect.Pointer, reflect.Interface:
			if x.IsNil() || y.IsNil() {
				if x.IsNil() != y.IsNil() {
					out = append(out, fmt.Sprintf("%s: nil %v vs %v", path, x.IsNil(), y.IsNil()))
				}
				return
			}
			walk(path, x.Elem(), y.Elem())
		case reflect.Struct:
			for i := 0; i < x.NumField(); i++ {
				walk(path+"."+x.Type().Field(i).Name, x.Field(i), y.Field(i))
			}
		case reflect.Slice, reflect.Array:
			if x.Kind() == reflect.Slice && x.IsNil() != y.IsNil() {
				out = append(out, fmt.Sprintf("%s: nil slice %v vs %v", path, x.IsNil(), y.IsNil()))
				return
			}
			if x.Len() != y.Len() {
				out = append(out, fmt.Sprintf("%s: len %d vs %d", path, x.Len(), y.Len()))
				return
			}
			for i := 0; i < x.Len(); i++ {
				walk(fmt.Sprintf("%s[%d]", path, i), x.Index(i), y.Index(i))
			}
		case reflect.Map:
			if x.IsNil() != y.IsNil() || x.Len() != y.Len() {
				out = append(out, fmt.Sprintf("%s: map nil %v/%v len %d/%d", path, x.IsNil(), y.IsNil(), x.Len(), y.Len()))
				return
			}
			for _, k := range x.MapKeys() {
				walk(fmt.Sprintf("%s[%v]", path, k), x.MapIndex(k), y.MapIndex(k))
			}
		default:
			if fmt.Sprint(x) != fmt.Sprint(y) {
				out = append(out, fmt.Sprintf("%s: %v vs %v", path, x, y))
			}
		}
	}
	walk("", reflect.ValueOf(a), reflect.ValueOf(b))
	return out
}

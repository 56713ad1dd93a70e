package sbom

import (
	"bytes"
	"testing"
)

// BenchmarkWrite encodes a package document with 200 files in each format.
//
//	go test ./internal/sbom/ -run '^$' -bench Write -benchmem
func BenchmarkWrite(b *testing.B) {
	d := largePackageDocument(200)
	for _, f := range Formats() {
		b.Run(string(f), func(b *testing.B) {
			var buf bytes.Buffer
			if err := Write(&buf, d, f); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(buf.Len()))
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := Write(&buf, d, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

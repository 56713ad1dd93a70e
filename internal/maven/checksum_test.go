package maven

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSum(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Digests
	}{
		{"", Digests{
			MD5:    "d41d8cd98f00b204e9800998ecf8427e",
			SHA1:   "da39a3ee5e6b4b0d3255bfef95601890afd80709",
			SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			SHA512: "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
		}},
		{"abc", Digests{
			MD5:    "900150983cd24fb0d6963f7d28e17f72",
			SHA1:   "a9993e364706816aba3e25717850c26c9cd0d89d",
			SHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
			SHA512: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
		}},
	} {
		got, err := Sum(strings.NewReader(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("Sum(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		for alg, want := range map[string]string{"md5": tc.want.MD5, "sha1": tc.want.SHA1, "sha256": tc.want.SHA256, "sha512": tc.want.SHA512, "sha3": ""} {
			if got := got.Get(alg); got != want {
				t.Errorf("Get(%q) = %q, want %q", alg, got, want)
			}
		}
	}
	for _, alg := range ChecksumExts {
		if (Digests{MD5: "x", SHA1: "x", SHA256: "x", SHA512: "x"}).Get(alg) == "" {
			t.Errorf("Get does not know %q, one of ChecksumExts", alg)
		}
	}

	boom := errors.New("boom")
	if _, err := Sum(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("Sum of a failing reader: %v, want it to wrap %v", err, boom)
	}
}

func TestParseChecksumFile(t *testing.T) {
	const sha1 = "a9993e364706816aba3e25717850c26c9cd0d89d"
	const md5 = "900150983cd24fb0d6963f7d28e17f72"
	const sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	sha512 := strings.Repeat("0123456789abcdef", 8)
	for _, tc := range []struct{ in, want string }{
		{sha1, sha1},
		{sha1 + "\n", sha1},
		{sha1 + "\r\n", sha1},
		{md5, md5},
		{sha256 + "\n", sha256},
		{sha512, sha512},
		{strings.ToUpper(sha1), sha1},
		{sha1 + "  lib-1.0.jar\n", sha1},
		{sha1 + " *lib-1.0.jar", sha1},
		{sha1 + "\tlib 1.0.jar  \n", sha1},
	} {
		got, err := ParseChecksumFile([]byte(tc.in))
		if err != nil {
			t.Errorf("ParseChecksumFile(%q): %v", tc.in, err)
		} else if got != tc.want {
			t.Errorf("ParseChecksumFile(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"\n\n", "empty"},
		{" " + sha1, "does not start with"},
		{sha1[:39], "does not start with"},
		{sha1 + "0", "does not start with"},
		{"g" + sha1[1:], "not hex"},
		{sha1 + "\n" + sha1, "more than one line"},
		{sha1 + "\n\nlib.jar", "more than one line"},
		{"MD5 (lib-1.0.jar) = " + md5, "does not start with"},
		{"lib-1.0.jar: " + sha1, "does not start with"},
		{sha1 + " lib\x00.jar", "control character"},
		{sha1 + " " + strings.Repeat("x", 2000), "longer than"},
	} {
		got, err := ParseChecksumFile([]byte(tc.in))
		if err == nil {
			t.Errorf("ParseChecksumFile(%q) = %q, want an error containing %q", tc.in, got, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseChecksumFile(%q): error %q, want ErrInvalid containing %q", tc.in, err, tc.want)
		}
	}
}

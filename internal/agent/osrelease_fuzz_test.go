package agent

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseOSRelease: ParseOSRelease and Family never panic, agree with
// each other, and a line appended to any input is still read, whatever
// came before it (os-release is line-based; one bad line must not hide the
// rest).
func FuzzParseOSRelease(f *testing.F) {
	for _, s := range []string{
		almaRelease, debianRelease, "",
		"ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n",
		"# a comment\n\n  ID='debian'  \n",
		"ID=\"unterminated\nVERSION_ID=\"\\x41\\u00e9\"\nPRETTY_NAME=\"a\\\"b\"\n",
		"ID=\"\"\"\nID_LIKE=\"'\"\nPRETTY_NAME='\n=\n==\nID\n",
		"\r\nID=RHEL\r\nID_LIKE=\r\n",
		strings.Repeat("#", 70000) + "\nID=debian\n", // a line longer than bufio.Scanner's default limit
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := ParseOSRelease(data)
		if r.ID != strings.ToLower(r.ID) || r.IDLike != strings.ToLower(r.IDLike) {
			t.Fatalf("ID %q / ID_LIKE %q not lower-cased", r.ID, r.IDLike)
		}
		fam, err := r.Family()
		if (err == nil) != (fam == FamilyRPM || fam == FamilyDeb) {
			t.Fatalf("Family() = %q, %v", fam, err)
		}
		if err != nil && !strings.Contains(err.Error(), "ID=") {
			t.Fatalf("Family error does not name the ID: %v", err)
		}
		if fam != "" && familyID(fam, r) == "" {
			t.Fatalf("Family() = %q from ID %q, ID_LIKE %q", fam, r.ID, r.IDLike)
		}
		for _, tail := range []string{"\nID=debian\n", "\nID=\"rocky\"\n"} {
			r2 := ParseOSRelease(append(bytes.Clone(data), tail...))
			want := strings.Trim(tail[4:len(tail)-1], `"`)
			if r2.ID != want {
				t.Fatalf("appending %q gives ID %q", tail, r2.ID)
			}
		}
	})
}

// familyID is the ID or ID_LIKE word of fam's family Family must have
// matched; "" if there is none.
func familyID(fam string, r OSRelease) string {
	ids := rpmIDs
	if fam == FamilyDeb {
		ids = debIDs
	}
	for _, w := range append([]string{r.ID}, strings.Fields(r.IDLike)...) {
		for _, id := range ids {
			if w == id {
				return w
			}
		}
	}
	return ""
}

package maven

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMetadata(t *testing.T) {
	updated := time.Date(2026, 1, 2, 12, 4, 5, 0, time.FixedZone("CET", 3600))
	versions := []string{"1.10", "1.2-SNAPSHOT", "1.0", "1.9", "1.0", "2.0-rc1", "2.0-SNAPSHOT"}
	got := Metadata("com.example", "lib", versions, updated)
	want := `<?xml version="1.0" encoding="UTF-8"?>
<metadata>
  <groupId>com.example</groupId>
  <artifactId>lib</artifactId>
  <versioning>
    <latest>2.0-SNAPSHOT</latest>
    <release>2.0-rc1</release>
    <versions>
      <version>1.0</version>
      <version>1.2-SNAPSHOT</version>
      <version>1.9</version>
      <version>1.10</version>
      <version>2.0-rc1</version>
      <version>2.0-SNAPSHOT</version>
    </versions>
    <lastUpdated>20260102110405</lastUpdated>
  </versioning>
</metadata>
`
	if string(got) != want {
		t.Errorf("Metadata =\n%s\nwant\n%s", got, want)
	}
	if versions[0] != "1.10" {
		t.Errorf("Metadata reordered its argument: %q", versions)
	}

	// The same versions in any order give the same bytes, even when
	// some are equal in Maven's order.
	equalish := []string{"1", "1.0", "1.0.0", "1-ga", "2"}
	first := Metadata("g", "a", equalish, updated)
	for range 20 {
		shuffled := slices.Clone(equalish)
		slices.Reverse(shuffled)
		shuffled[0], shuffled[2] = shuffled[2], shuffled[0]
		if again := Metadata("g", "a", shuffled, updated); !bytes.Equal(again, first) {
			t.Fatalf("Metadata of %q =\n%s\ndiffers from that of %q:\n%s", shuffled, again, equalish, first)
		}
		equalish = shuffled
	}

	// Round trip through ParseMetadata.
	m, err := ParseMetadata(got)
	if err != nil {
		t.Fatal(err)
	}
	wantM := MetadataFile{GroupID: "com.example", ArtifactID: "lib",
		Versions: []string{"1.0", "1.2-SNAPSHOT", "1.9", "1.10", "2.0-rc1", "2.0-SNAPSHOT"}}
	if m.GroupID != wantM.GroupID || m.ArtifactID != wantM.ArtifactID || m.Version != "" || !slices.Equal(m.Versions, wantM.Versions) {
		t.Errorf("ParseMetadata = %+v, want %+v", m, wantM)
	}
}

func TestMetadataEdges(t *testing.T) {
	updated := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// Only snapshots: no release.
	got := string(Metadata("g", "a", []string{"1.0-SNAPSHOT"}, updated))
	if !strings.Contains(got, "<latest>1.0-SNAPSHOT</latest>") || strings.Contains(got, "<release>") {
		t.Errorf("snapshots only:\n%s", got)
	}
	// No versions: neither latest nor release, and still well-formed.
	got = string(Metadata("g", "a", nil, updated))
	if strings.Contains(got, "<latest>") || strings.Contains(got, "<release>") || !strings.Contains(got, "<versions>\n    </versions>") {
		t.Errorf("no versions:\n%s", got)
	}
	if m, err := ParseMetadata([]byte(got)); err != nil || len(m.Versions) != 0 {
		t.Errorf("ParseMetadata of no versions = %+v, %v", m, err)
	}
	// Text is escaped, whatever the caller passes.
	got = string(Metadata("g<&>", "a", nil, updated))
	if !strings.Contains(got, "<groupId>g&lt;&amp;&gt;</groupId>") {
		t.Errorf("escaping:\n%s", got)
	}
}

func TestParseMetadata(t *testing.T) {
	// What Maven deploy writes for a SNAPSHOT version.
	snap := `<?xml version="1.0" encoding="UTF-8"?>
<metadata modelVersion="1.1.0">
  <groupId>com.example</groupId>
  <artifactId>lib</artifactId>
  <version>1.0-SNAPSHOT</version>
  <versioning>
    <snapshot><timestamp>20260102.030405</timestamp><buildNumber>1</buildNumber></snapshot>
    <lastUpdated>20260102030405</lastUpdated>
    <snapshotVersions>
      <snapshotVersion><extension>jar</extension><value>1.0-20260102.030405-1</value><updated>20260102030405</updated></snapshotVersion>
    </snapshotVersions>
  </versioning>
</metadata>`
	m, err := ParseMetadata([]byte(snap))
	if err != nil {
		t.Fatal(err)
	}
	if m.GroupID != "com.example" || m.ArtifactID != "lib" || m.Version != "1.0-SNAPSHOT" || len(m.Versions) != 0 {
		t.Errorf("ParseMetadata = %+v", m)
	}

	for _, tc := range []struct{ in, want string }{
		{"", "not well-formed"},
		{"<metadata>", "not well-formed"},
		{"<metadata/><metadata/>", "not well-formed"},
		{"<project/>", "not Maven metadata"},
		{`<?xml version="1.0" encoding="KOI8-R"?><metadata/>`, "encoding"},
		{"<metadata><groupId>a/b</groupId></metadata>", "slash"},
		{"<metadata><artifactId>..</artifactId></metadata>", "starts with a dot"},
		{"<metadata><version>1 0</version></metadata>", "space"},
		{"<metadata><versioning><versions><version>1.0</version><version>../x</version></versions></versioning></metadata>", "slash"},
		{"<metadata><versioning><versions><version></version></versions></versioning></metadata>", "empty"},
		{strings.Repeat(" ", MaxPOMSize+1), "larger than"},
	} {
		m, err := ParseMetadata([]byte(tc.in))
		if err == nil {
			t.Errorf("ParseMetadata(%.40q) = %+v, want an error containing %q", tc.in, m, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseMetadata(%.40q): error %q, want ErrInvalid containing %q", tc.in, err, tc.want)
		}
	}
}

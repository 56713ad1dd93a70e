package maven

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	lib := func(v string) Coordinates { return Coordinates{GroupID: "com.example", ArtifactID: "lib", Version: v} }
	for _, tc := range []struct {
		path   string
		want   Path
		target string // Target(), for checksums
	}{
		{path: "com/example/lib/1.0/lib-1.0.jar",
			want: Path{Kind: KindArtifact, Coordinates: lib("1.0"), FileVersion: "1.0", Extension: "jar"}},
		{path: "com/example/lib/1.0/lib-1.0.pom",
			want: Path{Kind: KindArtifact, Coordinates: lib("1.0"), FileVersion: "1.0", Extension: "pom"}},
		{path: "com/example/lib/1.0/lib-1.0-sources.jar",
			want: Path{Kind: KindArtifact, Coordinates: lib("1.0"), FileVersion: "1.0", Classifier: "sources", Extension: "jar"}},
		{path: "com/example/lib/1.0/lib-1.0-linux-x86_64.tar.gz",
			want: Path{Kind: KindArtifact, Coordinates: lib("1.0"), FileVersion: "1.0", Classifier: "linux-x86_64", Extension: "tar.gz"}},
		{path: "com/example/lib/1.0/lib-1.0.jar.asc",
			want: Path{Kind: KindArtifact, Coordinates: lib("1.0"), FileVersion: "1.0", Extension: "jar.asc"}},
		{path: "com/example/lib/1.0/lib-1.0.module",
			want: Path{Kind: KindArtifact, Coordinates: lib("1.0"), FileVersion: "1.0", Extension: "module"}},
		{path: "org/lib/2.0.0+build.5/lib-2.0.0+build.5.jar",
			want: Path{Kind: KindArtifact, Coordinates: Coordinates{GroupID: "org", ArtifactID: "lib", Version: "2.0.0+build.5"},
				FileVersion: "2.0.0+build.5", Extension: "jar"}},
		{path: "com/example/lib.core/1.0/lib.core-1.0.jar",
			want: Path{Kind: KindArtifact, Coordinates: Coordinates{GroupID: "com.example", ArtifactID: "lib.core", Version: "1.0"},
				FileVersion: "1.0", Extension: "jar"}},
		{path: "com/example/lib/1.0-SNAPSHOT/lib-1.0-SNAPSHOT.jar",
			want: Path{Kind: KindArtifact, Coordinates: lib("1.0-SNAPSHOT"), FileVersion: "1.0-SNAPSHOT", Extension: "jar"}},
		{path: "com/example/lib/1.0-SNAPSHOT/lib-1.0-20260102.030405-17-sources.jar",
			want: Path{Kind: KindArtifact, Coordinates: lib("1.0-SNAPSHOT"), FileVersion: "1.0-20260102.030405-17",
				Classifier: "sources", Extension: "jar"}},
		{path: "com/example/lib/1.0-SNAPSHOT/lib-1.0-20260102.030405-1.pom.sha256",
			want: Path{Kind: KindChecksum, Coordinates: lib("1.0-SNAPSHOT"), FileVersion: "1.0-20260102.030405-1",
				Extension: "pom", Algorithm: "sha256", TargetKind: KindArtifact},
			target: "com/example/lib/1.0-SNAPSHOT/lib-1.0-20260102.030405-1.pom"},
		{path: "com/example/lib/1.0/lib-1.0.jar.sha1",
			want: Path{Kind: KindChecksum, Coordinates: lib("1.0"), FileVersion: "1.0", Extension: "jar",
				Algorithm: "sha1", TargetKind: KindArtifact},
			target: "com/example/lib/1.0/lib-1.0.jar"},
		{path: "com/example/lib/1.0/lib-1.0-sources.jar.md5",
			want: Path{Kind: KindChecksum, Coordinates: lib("1.0"), FileVersion: "1.0", Classifier: "sources", Extension: "jar",
				Algorithm: "md5", TargetKind: KindArtifact},
			target: "com/example/lib/1.0/lib-1.0-sources.jar"},
		{path: "com/example/lib/1.0/lib-1.0.jar.asc.sha512",
			want: Path{Kind: KindChecksum, Coordinates: lib("1.0"), FileVersion: "1.0", Extension: "jar.asc",
				Algorithm: "sha512", TargetKind: KindArtifact},
			target: "com/example/lib/1.0/lib-1.0.jar.asc"},
		{path: "com/example/lib/maven-metadata.xml",
			want: Path{Kind: KindMetadata, Coordinates: lib("")}},
		{path: "lib/core/maven-metadata.xml",
			want: Path{Kind: KindMetadata, Coordinates: Coordinates{GroupID: "lib", ArtifactID: "core"}}},
		{path: "com/example/lib/maven-metadata.xml.sha256",
			want:   Path{Kind: KindChecksum, Coordinates: lib(""), Algorithm: "sha256", TargetKind: KindMetadata},
			target: "com/example/lib/maven-metadata.xml"},
		{path: "com/example/lib/1.0-SNAPSHOT/maven-metadata.xml",
			want: Path{Kind: KindMetadata, Coordinates: lib("1.0-SNAPSHOT")}},
		{path: "com/example/lib/1.0-SNAPSHOT/maven-metadata.xml.md5",
			want:   Path{Kind: KindChecksum, Coordinates: lib("1.0-SNAPSHOT"), Algorithm: "md5", TargetKind: KindMetadata},
			target: "com/example/lib/1.0-SNAPSHOT/maven-metadata.xml"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			got, err := ParsePath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ParsePath =\n %+v, want\n %+v", got, tc.want)
			}
			if s := got.String(); s != tc.path {
				t.Errorf("String() = %q, want the path parsed", s)
			}
			if s := got.Target(); s != tc.target {
				t.Errorf("Target() = %q, want %q", s, tc.target)
			}
		})
	}
}

func TestParsePathErrors(t *testing.T) {
	for _, tc := range []struct {
		path string
		want string // in the error
	}{
		{"", "empty"},
		{strings.Repeat("a/", 600) + "maven-metadata.xml", "longer than 1024"},
		{"/com/example/lib/1.0/lib-1.0.jar", "starts with a slash"},
		{"com//example/lib/1.0/lib-1.0.jar", "empty segment"},
		{"com/example/lib/1.0/", "empty segment"},
		{"com/example/../1.0/lib-1.0.jar", `".." segment`},
		{"com/./example/lib/1.0/lib-1.0.jar", `"." segment`},
		{"com\\example/lib/1.0/lib-1.0.jar", "backslash"},
		{"com/example/lib/1.0/lib-1.0.jar\x00", "control character"},
		{"com/example/lib/1.0/lib-1.0.jar\n", "control character"},
		{"com/exa mple/lib/1.0/lib-1.0.jar", "space"},
		{"com/ex.ample/lib/1.0/lib-1.0.jar", "contains '.'"},
		{"com/exämple/lib/1.0/lib-1.0.jar", "non-ASCII"},
		{"com/example/lib+x/1.0/lib+x-1.0.jar", "contains '+'"},
		{"com/example/lib/.1/lib-.1.jar", "starts with a dot"},
		{"com/example/lib/1..0/lib-1..0.jar", `contains ".."`},
		{"lib/1.0/lib-1.0.jar", "not groupId/artifactId/version/file"},
		{"lib-1.0.jar", "not groupId/artifactId/version/file"},
		{"maven-metadata.xml", "not groupId/artifactId/maven-metadata.xml"},
		{"lib/maven-metadata.xml", "not groupId/artifactId/maven-metadata.xml"},
		{"com/example/lib/1.0/other-1.0.jar", `does not start with "lib-1.0"`},
		{"com/example/lib/1.0/lib-1.1.jar", `does not start with "lib-1.0"`},
		{"com/example/lib/1.0/lib-1.01.jar", `does not start with "lib-1.0"`},
		{"com/example/lib/1.0/lib1.0.jar", `does not start with "lib-1.0"`},
		{"com/example/lib/1.0-SNAPSHOT/lib-1.0-2026.jar", `does not start with "lib-1.0-SNAPSHOT"`},
		{"com/example/lib/1.0-SNAPSHOT/lib-1.0-20260102.030405-.jar", `does not start with "lib-1.0-SNAPSHOT"`},
		{"com/example/lib/1.0-SNAPSHOT/lib-1.0-20260102.030405-1x.jar", `does not start with "lib-1.0-SNAPSHOT"`},
		{"com/example/lib/1.0/lib-1.0", "no extension"},
		{"com/example/lib/1.0/lib-1.0-sources", "no extension"},
		{"com/example/lib/1.0/lib-1.0.", "no extension"},
		{"com/example/lib/1.0/lib-1.0-.jar", "empty classifier"},
		{"com/example/lib/1.0/lib-1.0.tar..gz", "empty extension"},
		{"com/example/lib/1.0/lib-1.0.jar.", "empty extension"},
		{"com/example/lib/1.0/lib-1.0.j+r", "contains '+'"},
		{"com/example/lib/1.0/lib-1.0.jar.sha1.md5", "checksum of a checksum"},
		{"com/example/lib/1.0/lib-1.0.sha1", "no extension"},
		{"example/lib/maven-metadata.xml.asc", "not groupId/artifactId/version/file"},
		{"com/example/lib/maven-metadata.xml.asc", `does not start with "example-lib"`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			p, err := ParsePath(tc.path)
			if err == nil {
				t.Fatalf("ParsePath = %+v, want an error containing %q", p, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q is not ErrInvalid", err)
			}
		})
	}
}

// Paths the layout cannot read as meant, parsed as what they could be;
// the caller then finds no such artifact.
func TestParsePathAmbiguous(t *testing.T) {
	for _, tc := range []struct {
		path string
		want Path
	}{
		// A release version has no metadata of its own: this is the
		// metadata of artifact 1.0 in group com.example.lib.
		{"com/example/lib/1.0/maven-metadata.xml",
			Path{Kind: KindMetadata, Coordinates: Coordinates{GroupID: "com.example.lib", ArtifactID: "1.0"}}},
		// Timestamps belong to SNAPSHOT directories only: elsewhere they
		// are a classifier and an extension.
		{"com/example/lib/1.0/lib-1.0-20260102.030405-1.jar",
			Path{Kind: KindArtifact, Coordinates: Coordinates{GroupID: "com.example", ArtifactID: "lib", Version: "1.0"},
				FileVersion: "1.0", Classifier: "20260102", Extension: "030405-1.jar"}},
	} {
		p, err := ParsePath(tc.path)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.path, err)
		} else if p != tc.want {
			t.Errorf("ParsePath(%q) = %+v, want %+v", tc.path, p, tc.want)
		}
	}
}

func TestCoordinates(t *testing.T) {
	c := Coordinates{GroupID: "com.example.tools", ArtifactID: "lib", Version: "1.0", Packaging: "jar"}
	for _, tc := range []struct{ got, want string }{
		{c.String(), "com.example.tools:lib:1.0"},
		{c.ArtifactDir(), "com/example/tools/lib"},
		{c.Dir(), "com/example/tools/lib/1.0"},
		{c.FileName("", "pom"), "lib-1.0.pom"},
		{c.FileName("sources", "jar"), "lib-1.0-sources.jar"},
		{c.FileName("", "tar.gz"), "lib-1.0.tar.gz"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	for v, want := range map[string]bool{"1.0-SNAPSHOT": true, "1.0": false, "1.0-snapshot": false, "SNAPSHOT": false, "1.0-SNAPSHOT-1": false} {
		if got := (Coordinates{Version: v}).IsSnapshot(); got != want {
			t.Errorf("IsSnapshot(%q) = %v, want %v", v, got, want)
		}
	}
	for _, bad := range []Coordinates{
		{ArtifactID: "a", Version: "1"},
		{GroupID: "g", Version: "1"},
		{GroupID: "g", ArtifactID: "a"},
		{GroupID: ".g", ArtifactID: "a", Version: "1"},
		{GroupID: "g", ArtifactID: "a", Version: "1", Packaging: "ja r"},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) succeeded, want an error", bad)
		}
	}
}

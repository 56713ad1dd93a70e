package maven

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/errs"
)

// project wraps body in a <project> with the POM namespace.
func project(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <modelVersion>4.0.0</modelVersion>
` + body + `
</project>
`
}

const parent = `<parent><groupId>org.example</groupId><artifactId>parent</artifactId><version>2.0</version></parent>`

func TestParsePOM(t *testing.T) {
	for _, tc := range []struct {
		name string
		pom  string
		want Coordinates
	}{
		{"plain", project(`<groupId>com.example</groupId><artifactId>lib</artifactId><version>1.0</version>`),
			Coordinates{"com.example", "lib", "1.0", "jar"}},
		{"packaging", project(`<groupId>com.example</groupId><artifactId>bom</artifactId><version>1.0</version><packaging>pom</packaging>`),
			Coordinates{"com.example", "bom", "1.0", "pom"}},
		{"space around values", project("<groupId>\n  com.example\n</groupId><artifactId> lib </artifactId><version>\t1.0 </version>"),
			Coordinates{"com.example", "lib", "1.0", "jar"}},
		{"inherits group and version", project(parent + `<artifactId>lib</artifactId>`),
			Coordinates{"org.example", "lib", "2.0", "jar"}},
		{"own group and version win", project(parent + `<groupId>com.example</groupId><artifactId>lib</artifactId><version>3.0</version>`),
			Coordinates{"com.example", "lib", "3.0", "jar"}},
		{"snapshot", project(`<groupId>g</groupId><artifactId>a</artifactId><version>1.0-SNAPSHOT</version>`),
			Coordinates{"g", "a", "1.0-SNAPSHOT", "jar"}},
		{"project.version of parent", project(parent + `<artifactId>lib</artifactId><version>${project.parent.version}</version>`),
			Coordinates{"org.example", "lib", "2.0", "jar"}},
		{"parent.version", project(parent + `<artifactId>lib</artifactId><version>${parent.version}-1</version>`),
			Coordinates{"org.example", "lib", "2.0-1", "jar"}},
		{"revision property", project(`<groupId>g</groupId><artifactId>a</artifactId><version>${revision}${changelist}</version>
			<properties><revision>1.4.0</revision><changelist>-SNAPSHOT</changelist></properties>`),
			Coordinates{"g", "a", "1.4.0-SNAPSHOT", "jar"}},
		{"nested properties", project(`<groupId>${base}.tools</groupId><artifactId>a</artifactId><version>${v}</version>
			<properties><base>${org}.example</base><org>com</org><v>${major}.1</v><major>7</major></properties>`),
			Coordinates{"com.example.tools", "a", "7.1", "jar"}},
		{"parent version from property", project(`<parent><groupId>g</groupId><artifactId>p</artifactId><version>${revision}</version></parent>
			<artifactId>a</artifactId><properties><revision>5</revision></properties>`),
			Coordinates{"g", "a", "5", "jar"}},
		{"dependencies do not count", project(`<groupId>g</groupId><artifactId>a</artifactId><version>1</version>
			<dependencies><dependency><groupId>x</groupId><artifactId>y</artifactId><version>${nowhere}</version></dependency></dependencies>
			<build><plugins><plugin><version>9</version></plugin></plugins></build>`),
			Coordinates{"g", "a", "1", "jar"}},
		{"no namespace", `<project><groupId>g</groupId><artifactId>a</artifactId><version>1</version></project>`,
			Coordinates{"g", "a", "1", "jar"}},
		{"byte-order mark and trailing comment", "\uFEFF" + project(`<groupId>g</groupId><artifactId>a</artifactId><version>1</version>`) + "<!-- end -->\n",
			Coordinates{"g", "a", "1", "jar"}},
		{"latin-1", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><project><name>Caf\xe9</name><groupId>g</groupId><artifactId>a</artifactId><version>1</version></project>",
			Coordinates{"g", "a", "1", "jar"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePOM(strings.NewReader(tc.pom))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ParsePOM = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParsePOMErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		pom  string
		want string // in the error
	}{
		{"empty", "", "empty"},
		{"blank", " \n", "empty"},
		{"not XML", "hello", "not well-formed XML"},
		{"unclosed", `<project><groupId>g</groupId>`, "not well-formed XML"},
		{"mismatched", `<project><groupId>g</artifactId></project>`, "not well-formed XML"},
		{"two roots", `<project><artifactId>a</artifactId></project><project/>`, "not well-formed XML"},
		{"text after root", `<project><artifactId>a</artifactId></project>junk`, "not well-formed XML"},
		{"other root", `<settings><artifactId>a</artifactId></settings>`, "not a POM"},
		{"unknown encoding", `<?xml version="1.0" encoding="EBCDIC"?><project/>`, "encoding \"EBCDIC\", which is not supported; save it as UTF-8"},
		{"no artifactId", project(`<groupId>g</groupId><version>1</version>`), "no <artifactId>"},
		{"artifactId only in parent", project(parent), "no <artifactId>"},
		{"no groupId", project(`<artifactId>a</artifactId><version>1</version>`), "no <groupId>"},
		{"no version", project(`<groupId>g</groupId><artifactId>a</artifactId>`), "no <version>"},
		{"empty version", project(`<groupId>g</groupId><artifactId>a</artifactId><version>  </version>`), "no <version>"},
		{"undefined property", project(`<groupId>g</groupId><artifactId>a</artifactId><version>${revision}</version>`),
			"uses ${revision}, which this POM does not define"},
		{"inherited property", project(parent + `<artifactId>a</artifactId><version>${lib.version}</version>`),
			"uses ${lib.version}"},
		{"env", project(`<groupId>g</groupId><artifactId>a</artifactId><version>${env.VERSION}</version>`), "${env.VERSION}"},
		{"unclosed reference", project(`<groupId>g</groupId><artifactId>a</artifactId><version>${revision</version>`), "without a closing"},
		{"version refers to itself", project(`<groupId>g</groupId><artifactId>a</artifactId><version>${project.version}</version>`), "loop"},
		{"groupId refers to itself", project(parent + `<groupId>${project.groupId}.sub</groupId><artifactId>lib</artifactId>`), "loop"},
		{"property loop", project(`<groupId>g</groupId><artifactId>a</artifactId><version>${x}</version><properties><x>${y}</x><y>${x}</y></properties>`), "loop"},
		{"slash in groupId", project(`<groupId>com/example</groupId><artifactId>a</artifactId><version>1</version>`), "contains a slash"},
		{"backslash in artifactId", project(`<groupId>g</groupId><artifactId>a\b</artifactId><version>1</version>`), "contains a backslash"},
		{"space in version", project(`<groupId>g</groupId><artifactId>a</artifactId><version>1.0 beta</version>`), "contains a space"},
		{"control in version", project(`<groupId>g</groupId><artifactId>a</artifactId><version>1&#x9;0</version>`), "control character"},
		{"non-ASCII", project(`<groupId>g</groupId><artifactId>café</artifactId><version>1</version>`), "non-ASCII"},
		{"dot-dot in artifactId", project(`<groupId>g</groupId><artifactId>..</artifactId><version>1</version>`), "starts with a dot"},
		{"dot-dot in groupId", project(`<groupId>com..example</groupId><artifactId>a</artifactId><version>1</version>`), `contains ".."`},
		{"groupId ends in a dot", project(`<groupId>com.</groupId><artifactId>a</artifactId><version>1</version>`), "ends with a dot"},
		{"version starts with a dot", project(`<groupId>g</groupId><artifactId>a</artifactId><version>.1</version>`), "starts with a dot"},
		{"plus in artifactId", project(`<groupId>g</groupId><artifactId>a+b</artifactId><version>1</version>`), `contains '+'`},
		{"long version", project(`<groupId>g</groupId><artifactId>a</artifactId><version>` + strings.Repeat("1", 101) + `</version>`), "longer than"},
		{"bad packaging", project(`<groupId>g</groupId><artifactId>a</artifactId><version>1</version><packaging>j/ar</packaging>`), "packaging"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParsePOM(strings.NewReader(tc.pom))
			if err == nil {
				t.Fatalf("ParsePOM = %+v, want an error containing %q", c, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) || errs.KindOf(err) != errs.Invalid {
				t.Errorf("error %q is not ErrInvalid of kind Invalid", err)
			}
		})
	}
}

func TestParsePOMLimits(t *testing.T) {
	// A large but valid POM is read; one over the limit is refused
	// without being parsed.
	pad := "<!--" + strings.Repeat("x", MaxPOMSize-1000) + "-->"
	ok := project(pad + `<groupId>g</groupId><artifactId>a</artifactId><version>1</version>`)
	if _, err := ParsePOM(strings.NewReader(ok)); err != nil {
		t.Errorf("POM of %d bytes: %v", len(ok), err)
	}
	big := bytes.NewReader(bytes.Repeat([]byte("x"), MaxPOMSize+1))
	if _, err := ParsePOM(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("POM of %d bytes: error %v, want larger than", MaxPOMSize+1, err)
	}

	// A property expanded over and over is cut off at a coordinate's
	// length, not held in memory.
	huge := project(`<groupId>g</groupId><artifactId>a</artifactId><version>` + strings.Repeat("${big}", 1000) +
		`</version><properties><big>` + strings.Repeat("1", 1<<20) + `</big></properties>`)
	if _, err := ParsePOM(strings.NewReader(huge)); err == nil || !strings.Contains(err.Error(), "longer than 100 characters once") {
		t.Errorf("huge expansion: error %v, want longer than 100 characters once", err)
	}
	// Properties that refer to each other many times over would expand
	// exponentially.
	var props strings.Builder
	for i := range 6 {
		fmt.Fprintf(&props, "<p%d>%s</p%d>", i, strings.Repeat(fmt.Sprintf("${p%d}", i+1), 20), i)
	}
	props.WriteString("<p6></p6>") // expands to nothing, ever more times
	bomb := project(`<groupId>g</groupId><artifactId>a</artifactId><version>${p0}</version><properties>` + props.String() + `</properties>`)
	if _, err := ParsePOM(strings.NewReader(bomb)); err == nil || !strings.Contains(err.Error(), "expands more than") {
		t.Errorf("reference bomb: error %v, want expands more than", err)
	}
}

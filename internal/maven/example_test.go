package maven_test

import (
	"fmt"
	"strings"

	"github.com/enmei-project/enmei/internal/maven"
)

// A module POM that inherits its groupId and version from its parent, and
// the paths of its sources jar and of that jar's checksum.
func ExampleParsePOM() {
	const pom = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>com.example</groupId>
    <artifactId>parent</artifactId>
    <version>1.2.0</version>
  </parent>
  <artifactId>lib</artifactId>
</project>`
	c, err := maven.ParsePOM(strings.NewReader(pom))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c, c.Packaging)
	sources := c.Dir() + "/" + c.FileName("sources", "jar")
	fmt.Println(sources)
	p, err := maven.ParsePath(sources + ".sha1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Kind, p.Algorithm, p.Classifier, p.Extension, p.Target())
	// Output:
	// com.example:lib:1.2.0 jar
	// com/example/lib/1.2.0/lib-1.2.0-sources.jar
	// checksum sha1 sources jar com/example/lib/1.2.0/lib-1.2.0-sources.jar
}

// Package sbom is enmei's software-bill-of-materials model and its six
// encoders (SPDX 2.3 as JSON, YAML, tag-value and XML; CycloneDX 1.6 as JSON
// and XML). Every RPM/deb package version the vendor publishes must ship with
// an SBOM, and a customer's host agent builds one for the whole host, so both
// the server and the agent need the same small, store-independent model
// (Document, Package, File) and a single Write that turns it into whichever
// format the customer's tooling (Dependency-Track, grype, an auditor's
// spreadsheet, a regulator's portal) asks for. The encoders emit the NTIA
// minimum elements (supplier, name, version, PURL, author, timestamp,
// relationships) plus licence and SHA-256 digests, use the field libraries
// (spdx/tools-golang, CycloneDX/cyclonedx-go, packageurl-go) where they
// exist, and are deterministic: the same Document always yields byte-identical
// output, so SBOMs can be content-addressed, cached and signed.
package sbom

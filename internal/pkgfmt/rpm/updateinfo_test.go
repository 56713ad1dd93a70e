package rpm

import (
	"strings"
	"testing"
)

func TestMergeUpdateinfo(t *testing.T) {
	upstream := []byte(`<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="security@almalinux.org" status="final" type="security" version="4">
    <id>ALSA-2024:0001</id><title>openssl &amp; friends</title>
  </update>
  <update from="x" type="bugfix"><id>ALBA-2024:0002</id><title>upstream, shadowed</title></update>
</updates>`)
	vendor := []byte(`<?xml version="1.0" encoding="UTF-8"?>
<updates>
<update from="enmei" type="security"><id>ALBA-2024:0002</id><title>vendor's own</title></update>
<update from="enmei" type="security"><id>ENMEI-2026-0001</id><title>fix</title></update>
</updates>
`)
	got, err := MergeUpdateinfo(upstream, vendor)
	if err != nil {
		t.Fatal(err)
	}
	us, err := updates(got)
	if err != nil {
		t.Fatalf("merged document does not parse: %v\n%s", err, got)
	}
	var ids []string
	for _, u := range us {
		ids = append(ids, u.id)
	}
	if strings.Join(ids, ",") != "ALBA-2024:0002,ENMEI-2026-0001,ALSA-2024:0001" {
		t.Errorf("merged IDs = %v", ids)
	}
	if !strings.Contains(string(got), "openssl &amp; friends") || strings.Contains(string(got), "upstream, shadowed") || !strings.Contains(string(got), "vendor's own") {
		t.Errorf("merged document:\n%s", got)
	}
	if only, _ := MergeUpdateinfo(nil, vendor); string(only) != string(vendor) {
		t.Error("without an upstream document the vendor's is not kept as it is")
	}
	if only, _ := MergeUpdateinfo(upstream, nil); !strings.Contains(string(only), "ALSA-2024:0001") {
		t.Error("without vendor advisories the upstream's are lost")
	}
	for _, bad := range []string{"<updates><update><id>x</id>", "<other/>", "not xml <"} {
		if _, err := MergeUpdateinfo([]byte(bad), vendor); err == nil {
			t.Errorf("MergeUpdateinfo(%q) accepted it", bad)
		}
	}
}

package advisory

import (
	"fmt"
	"math"
	"strings"

	cvss30 "github.com/pandatix/go-cvss/30"
	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"
)

// Score3 is the base score of a CVSS v3.0 or v3.1 vector.
func Score3(vector string) (float64, error) {
	switch {
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		v, err := cvss31.ParseVector(vector)
		if err != nil {
			return 0, fmt.Errorf("CVSS vector %q is not valid CVSS v3.1 (%v)", vector, err)
		}
		return v.BaseScore(), nil
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		v, err := cvss30.ParseVector(vector)
		if err != nil {
			return 0, fmt.Errorf("CVSS vector %q is not valid CVSS v3.0 (%v)", vector, err)
		}
		return v.BaseScore(), nil
	}
	return 0, fmt.Errorf("CVSS vector %q does not start with CVSS:3.1/ or CVSS:3.0/ (or CVSS:4.0/ for v4)", vector)
}

// Score4 is the score of a CVSS v4.0 vector.
func Score4(vector string) (float64, error) {
	if !strings.HasPrefix(vector, "CVSS:4.0/") {
		return 0, fmt.Errorf("CVSS v4 vector %q does not start with CVSS:4.0/", vector)
	}
	v, err := cvss40.ParseVector(vector)
	if err != nil {
		return 0, fmt.Errorf("CVSS vector %q is not valid CVSS v4.0 (%v)", vector, err)
	}
	return math.Round(v.Score()*10) / 10, nil
}

// Rating is the qualitative severity of a CVSS score (v3 and v4 agree).
func Rating(score float64) string {
	switch {
	case score == 0:
		return "none"
	case score < 4:
		return "low"
	case score < 7:
		return "medium"
	case score < 9:
		return "high"
	}
	return "critical"
}

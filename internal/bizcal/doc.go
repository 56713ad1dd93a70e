// Package bizcal is the Japanese business calendar behind the vendor's
// release SLA (a CVE fix is due a number of business days after disclosure)
// and support hours: national holidays under 国民の祝日に関する法律 with its
// substitute and citizens' holidays, the 29 December – 3 January closure and
// the vendor's own closed days, plus business-day arithmetic fast enough for
// bulk use. Everything is a pure function of its arguments: no I/O, no clock,
// no time zone database, and no state beyond tables built once on first use.
package bizcal

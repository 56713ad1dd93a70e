package rpm

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"io"
	"strconv"
)

// Signature header tags holding OpenPGP signatures over the main header
// alone: the ones rpm 4.16 and later require.
const (
	sigDSAHeader = 267 // RPMSIGTAG_DSA (DSAHEADER): binary packet
	sigOpenPGP   = 278 // RPMSIGTAG_OPENPGP (rpm 6): base64 packets, a string array
)

// SignedHeader is an RPM's main header with the OpenPGP signatures made over
// it, as ReadSigned finds them, for a caller that holds the keys.
type SignedHeader struct {
	NEVRA string // name-[epoch:]version-release.arch, for messages
	// Header is the main header as stored (intro, index and store): the
	// bytes a header signature covers.
	Header []byte
	// Signatures are binary OpenPGP signature packets from RSAHEADER,
	// DSAHEADER and rpm 6's OPENPGP tag; nil for an unsigned package.
	Signatures [][]byte
	// PayloadDigest reports that the header records a payload digest and the
	// payload matched it: only then does a header signature vouch for the
	// payload too (rpm 4.14 and later write one).
	PayloadDigest bool
}

// ReadSigned reads a whole RPM, binary or source, from r. It checks the main
// header against the digests in the signature header, and the payload
// against the header's payload digest (or, for older packages, the MD5 and
// size in the signature header), and returns the header with its OpenPGP
// signatures unchecked: the caller checks them against its keys.
func ReadSigned(r io.Reader) (*SignedHeader, error) {
	lead := make([]byte, leadSize)
	if _, err := io.ReadFull(r, lead); err != nil || !bytes.Equal(lead[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
		return nil, invalid("it is not an RPM package (no RPM lead)")
	}
	sig, err := readHeader(r, regionSig)
	if err != nil {
		return nil, err
	}
	if pad := sigPadding(len(sig.bytes)); pad > 0 {
		if _, err := io.ReadFull(r, make([]byte, pad)); err != nil {
			return nil, invalid("the file is truncated after its signature header")
		}
	}
	hdr, err := readHeader(r, regionHeader)
	if err != nil {
		return nil, err
	}
	if e := sig.get(sigSHA256); e != nil {
		sum := sha256.Sum256(hdr.bytes)
		if e.str() != hex.EncodeToString(sum[:]) {
			return nil, invalid("its header does not match its SHA-256 digest (the file is corrupted)")
		}
	}
	if e := sig.get(sigSHA1); e != nil {
		sum := sha1.Sum(hdr.bytes)
		if e.str() != hex.EncodeToString(sum[:]) {
			return nil, invalid("its header does not match its SHA-1 digest (the file is corrupted)")
		}
	}
	out := &SignedHeader{Header: hdr.bytes, NEVRA: nevra(hdr)}
	for _, tag := range []uint32{sigRSA, sigDSAHeader} {
		if e := sig.get(tag); e != nil && e.typ == typeBin && len(e.data) > 0 {
			out.Signatures = append(out.Signatures, e.data)
		}
	}
	if e := sig.get(sigOpenPGP); e != nil && e.typ == 8 {
		for _, s := range bytes.Split(bytes.TrimSuffix(e.data, []byte{0}), []byte{0}) {
			if pkt, err := base64.StdEncoding.DecodeString(string(s)); err == nil && len(pkt) > 0 {
				out.Signatures = append(out.Signatures, pkt)
			}
		}
	}

	// The payload, checked as Sign checks it.
	md := md5.New()
	md.Write(hdr.bytes)
	hashes := []io.Writer{md}
	payloadHash, wantPayload := payloadDigest(hdr)
	if payloadHash != nil {
		hashes = append(hashes, payloadHash)
	}
	n, err := io.Copy(io.MultiWriter(hashes...), r)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, invalid("it has no payload (the file is truncated)")
	}
	if payloadHash != nil {
		if hex.EncodeToString(payloadHash.Sum(nil)) != wantPayload {
			return nil, invalid("its payload does not match its digest (the file is truncated or corrupted)")
		}
		out.PayloadDigest = true
	}
	total := uint64(len(hdr.bytes)) + uint64(n)
	for _, tag := range []uint32{sigSize, sigLongSize} {
		if size, ok := sig.get(tag).uint(); ok && size != total {
			return nil, invalid("its size does not match its header (%d bytes expected, %d found: truncated or corrupted)", size, total)
		}
	}
	if e := sig.get(sigMD5); e != nil && !bytes.Equal(e.data, md.Sum(nil)) {
		return nil, invalid("its content does not match its MD5 digest (the file is truncated or corrupted)")
	}
	return out, nil
}

// nevra reads name-version-release.arch from the raw header tags, so source
// packages, which parseHeader refuses, have a name in messages too.
func nevra(h *rawHeader) string {
	epoch := ""
	if e := h.get(1003); e != nil && e.typ == 4 && len(e.data) >= 4 { // RPMTAG_EPOCH
		epoch = strconv.FormatUint(uint64(binary.BigEndian.Uint32(e.data)), 10) + ":"
	}
	return h.get(1000).str() + "-" + epoch + h.get(1001).str() + "-" + h.get(1002).str() + "." + h.get(1022).str()
}

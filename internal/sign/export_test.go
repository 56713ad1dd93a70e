package sign

import "crypto/rsa"

// SecretExponentForTest returns the RSA secret exponent, so tests can look
// for private key material where it must not be.
func (k *Key) SecretExponentForTest() []byte {
	return k.entity.PrivateKey.PrivateKey.(*rsa.PrivateKey).D.Bytes()
}

package sign

import (
	"context"
	"fmt"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// Settings is the part of the store the signing key lives in.
type Settings interface {
	Setting(ctx context.Context, name string) ([]byte, error)
	PutSettingIfAbsent(ctx context.Context, name string, value []byte) ([]byte, error)
}

const settingName = "signing-key"

// LoadOrCreate returns the repositories' signing key, creating it on first
// use. It lives in the store, not on one server's disk, so every replica
// signs with the same key; concurrent first starts agree on one key.
func LoadOrCreate(ctx context.Context, s Settings, now time.Time) (*Key, error) {
	data, err := s.Setting(ctx, settingName)
	if errs.Is(err, errs.NotFound) {
		k, err := Generate("enmei repository signing key", "enmei@localhost", now)
		if err != nil {
			return nil, err
		}
		armored, err := k.ArmoredPrivate()
		if err != nil {
			return nil, err
		}
		data, err = s.PutSettingIfAbsent(ctx, settingName, armored)
		if err != nil {
			return nil, fmt.Errorf("storing signing key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("loading signing key: %w", err)
	}
	return ReadArmored(data)
}

package web

import (
	"embed"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/text/language"

	"github.com/enmei-project/enmei/internal/entitle"
)

//go:embed locales/*.toml
var localeFS embed.FS

// Langs are the portal's languages, Japanese first: it is the default.
var Langs = []string{"ja", "en"}

var matcher = language.NewMatcher([]language.Tag{language.Japanese, language.English})

// catalogs maps a language to its messages, keyed "section.name".
type catalogs map[string]map[string]string

func loadCatalogs() (catalogs, error) {
	out := catalogs{}
	for _, lang := range Langs {
		var tree map[string]any
		if _, err := toml.DecodeFS(localeFS, "locales/"+lang+".toml", &tree); err != nil {
			return nil, fmt.Errorf("message catalog %s: %w", lang, err)
		}
		flat := map[string]string{}
		flatten("", tree, flat)
		out[lang] = flat
	}
	return out, nil
}

func flatten(prefix string, tree map[string]any, out map[string]string) {
	for k, v := range tree {
		switch v := v.(type) {
		case map[string]any:
			flatten(prefix+k+".", v, out)
		case string:
			out[prefix+k] = v
		}
	}
}

// keys lists a catalog's keys, sorted.
func (c catalogs) keys(lang string) []string {
	var ks []string
	for k := range c[lang] {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Locale renders messages, dates and numbers in one language. Templates
// call it as {{.L.T "key"}}.
type Locale struct {
	Lang string
	msgs map[string]string
	log  *slog.Logger
}

// T returns the message for key, formatted with args (fmt verbs such as
// %[1]s, so a translation may reorder them). A missing key shows as the key
// itself and is logged; the catalog test keeps that from shipping.
func (l *Locale) T(key string, args ...any) string {
	m, ok := l.msgs[key]
	if !ok {
		l.log.Error("message missing from the catalog", "lang", l.Lang, "key", key)
		return "[" + key + "]"
	}
	if len(args) == 0 {
		return m
	}
	return fmt.Sprintf(m, args...)
}

// Time shows an instant in Asia/Tokyo, the zone of contracts and customers.
func (l *Locale) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(entitle.Tokyo).Format("2006-01-02 15:04") + " JST"
}

// Other is the language the switch offers.
func (l *Locale) Other() string {
	if l.Lang == "ja" {
		return "en"
	}
	return "ja"
}

// LangName is a language's name in itself, as the switch shows it.
func LangName(lang string) string {
	if lang == "ja" {
		return "日本語"
	}
	return "English"
}

const langCookie = "enmei_lang"

// pickLang chooses the language: the switch's cookie, else the browser's
// Accept-Language, else Japanese.
func pickLang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil {
		for _, l := range Langs {
			if c.Value == l {
				return l
			}
		}
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return "ja"
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return "ja"
	}
	return strings.ToLower(Langs[i])
}

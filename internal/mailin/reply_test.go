package mailin

import "testing"

func TestTag(t *testing.T) {
	tests := []struct {
		subject string
		n       int64
		ok      bool
	}{
		{"[ENM-T-000042] 質問", 42, true},
		{"Re: [ENM-T-000042] 質問", 42, true},
		{"RE: RE: Fwd: [ENM-T-000042]", 42, true},
		{"返信: 転送: 【ENM-T-000042】サーバー停止", 42, true},
		{"【ENM-T-000042】", 42, true},
		{"[enm-t-1234567] lower case", 1234567, true},
		{"［ＥＮＭ－Ｔ－０００１２３］ 全角", 123, true},
		{"Re:[ENM-T-999999]", 999999, true},
		{"[ENM-T-12]", 0, false},
		{"[ENM-T-00042]", 0, false},
		{"ENM-T-000042", 0, false},
		{"[ENM-X-000042]", 0, false},
		{"[ENM-T-000042", 0, false},
		{"[ENM-T-99999999999999999999] [ENM-T-000007]", 7, true},
		{"", 0, false},
	}
	for _, tt := range tests {
		n, ok := Tag(tt.subject)
		if n != tt.n || ok != tt.ok {
			t.Errorf("Tag(%q) = %d, %v; want %d, %v", tt.subject, n, ok, tt.n, tt.ok)
		}
	}
}

func TestFormatTag(t *testing.T) {
	for n, want := range map[int64]string{1: "ENM-T-000001", 123: "ENM-T-000123", 999999: "ENM-T-999999", 1234567: "ENM-T-1234567"} {
		if got := FormatTag(n); got != want {
			t.Errorf("FormatTag(%d) = %q, want %q", n, got, want)
		}
		if got, ok := Tag("Re: [" + FormatTag(n) + "]"); !ok || got != n {
			t.Errorf("Tag(FormatTag(%d)) = %d, %v", n, got, ok)
		}
	}
}

func TestNewText(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{
			"Gmail",
			"Thanks, that fixed it.\n\nOn Tue, Dec 1, 2026 at 10:00 AM Enmei Support <support@enmei.example> wrote:\n\n> Please restart the service.\n>\n> Regards\n",
			"Thanks, that fixed it.",
		},
		{
			"Gmail wrapped attribution",
			"Still failing.\r\n\r\nOn Tue, Dec 1, 2026 at 10:00 AM Enmei Support <\r\nsupport@enmei.example> wrote:\r\n> Please restart.\r\n",
			"Still failing.",
		},
		{
			"Thunderbird",
			"It works now.\n\nOn 12/1/26 10:00, Enmei Support wrote:\n> Please restart.\n",
			"It works now.",
		},
		{
			"address wrote",
			"OK.\n\nEnmei Support <support@enmei.example> wrote:\n> Please restart.\n",
			"OK.",
		},
		{
			"Outlook English",
			"See the log attached.\n\n-----Original Message-----\nFrom: Enmei Support <support@enmei.example>\nSent: Tuesday, December 1, 2026 10:00 AM\nSubject: [ENM-T-000042]\n\nPlease send the log.\n",
			"See the log attached.",
		},
		{
			"Outlook English without separator",
			"Done.\n\n________________________________\nFrom: Enmei Support <support@enmei.example>\nSent: Tuesday, December 1, 2026 10:00 AM\nTo: Taro\n\nPlease send the log.\n",
			"Done.",
		},
		{
			"Outlook Japanese",
			"お世話になっております。\nログを添付します。\n\n山田\n\n-----元のメッセージ-----\n差出人: エンメイ サポート <support@enmei.example>\n送信日時: 2026年12月1日 10:00\n宛先: 山田 太郎\n件名: [ENM-T-000042] 質問\n\nログをお送りください。\n",
			"お世話になっております。\nログを添付します。\n\n山田",
		},
		{
			"Outlook Japanese header block only",
			"承知しました。\n\n差出人: エンメイ サポート <support@enmei.example>\n件名: [ENM-T-000042] 質問\n送信日時: 2026年12月1日 10:00\n\nログをお送りください。",
			"承知しました。",
		},
		{
			"Thunderbird Japanese",
			"再起動で解決しました。\nありがとうございました。\n\n2026/12/01 10:00、山田 太郎 さんは書きました:\n> サーバーを再起動してください。\n",
			"再起動で解決しました。\nありがとうございました。",
		},
		{
			"Japanese ni ga",
			"了解です。\n\n2026年12月1日 10:00 に サポート が書きました:\n> 回答です。",
			"了解です。",
		},
		{
			"Gmail Japanese",
			"確認します。\n\n2026年12月1日(火) 10:00 Enmei Support <support@enmei.example>:\n\n> ご連絡ください。\n",
			"確認します。",
		},
		{
			"quote marks only",
			"Yes.\n\n> Does it fail every time?\n> Please confirm.\n\n\n",
			"Yes.",
		},
		{
			"interleaved",
			"> 1. バージョンは？\n8.2です。\n> 2. OSは？\nRHEL 9です。\n",
			"8.2です。\nRHEL 9です。",
		},
		{
			"unknown attribution above bottom quote",
			"はい。\n\n2026/12/01 サポート様:\n> 確認してください。\n",
			"はい。",
		},
		{
			"no quote",
			"新しい問い合わせです。\n\n\n",
			"新しい問い合わせです。",
		},
		{
			"From without date is text",
			"From: the top of the page\nclick Settings.\n",
			"From: the top of the page\nclick Settings.",
		},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewText(tt.body); got != tt.want {
				t.Errorf("NewText =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

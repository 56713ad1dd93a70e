package desk

import (
	"fmt"
	"time"

	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/mailin"
	"github.com/enmei-project/enmei/internal/support"
)

// text is a mail of the desk in the customer's language: its subject
// phrase (after the ticket tag) and body.
type text struct {
	subject, body string
	// reply marks the vendor's answer: "Re: [tag] subject".
	reply bool
}

const hoursJa = "サポート受付時間: 平日 9:00〜12:00、13:00〜18:00（土日・祝日・年末年始 12/29〜1/3・当社休業日を除く）\n"
const hoursEn = "Support hours: weekdays 9:00–12:00 and 13:00–18:00 JST, except weekends, Japanese national holidays, 29 Dec – 3 Jan and our company holidays.\n"

func jst(t time.Time) string { return t.In(entitle.Tokyo).Format("2006-01-02 15:04") }

func confirmText(lang string, a AllowanceView, word string) text {
	left, total := 0, 0
	if a.Left != nil {
		left, total = *a.Left, *a.Total
	}
	if lang == "en" {
		return text{subject: "please confirm this new inquiry", body: fmt.Sprintf(`We have received your inquiry.

This is a new matter: once you confirm it, it uses one of the inquiries of
your contract year %s – %s. Left now: %d of %d.

To have us investigate it as a new matter, reply to this mail and write this
word in your reply:

    %s

If it continues an earlier inquiry, write again with that inquiry's tag
([ENM-T-NNNNNN]) in the subject instead: follow-ups are free.

%s`, a.YearStart, a.YearEnd, left, total, word, hoursEn)}
	}
	return text{subject: "新しいお問い合わせの確認", body: fmt.Sprintf(`お問い合わせを受け付けました。

このお問い合わせは新しい案件です。ご確認いただくと、契約年度（%s〜%s）の
お問い合わせ回数を 1 回使用します。現在の残り回数: %d 回（年間 %d 回）。

新しい案件として調査を始めてよろしければ、このメールに返信し、本文に次の
確認語をお書きください。

    %s

以前のお問い合わせの続きでしたら、そのチケット番号（[ENM-T-NNNNNN]）を件名に
入れてお送りください。続きのご質問は回数を使用しません。

%s`, a.YearStart, a.YearEnd, left, total, word, hoursJa)}
}

func confirmedText(lang string, a support.Allowance, ys, ye string, due time.Time) text {
	if lang == "en" {
		return text{subject: "accepted as a new inquiry", body: fmt.Sprintf(`Thank you for confirming. We are investigating your inquiry.

Inquiries of your contract year %s – %s: %d used, %d left.
Our first answer is due by %s JST (support hours).

%s`, ys, ye, a.Used, a.Left(), jst(due), hoursEn)}
	}
	return text{subject: "新しいお問い合わせとして受け付けました", body: fmt.Sprintf(`ご確認ありがとうございます。調査を開始します。

契約年度（%s〜%s）のお問い合わせ回数: 使用 %d 回、残り %d 回。
初回回答の目安: %s（日本時間、サポート受付時間内で計算）

%s`, ys, ye, a.Used, a.Left(), jst(due), hoursJa)}
}

func usedUp(lang string, a support.Allowance, ys, ye string) text {
	if lang == "en" {
		return text{subject: "your inquiry allowance is used up", body: fmt.Sprintf(`We have received your inquiry, but the inquiries of your contract year
%s – %s are used up (%d of %d).

We have recorded it as waiting; it uses nothing. Our staff will contact you
about how it can be handled.

%s`, ys, ye, a.Used, a.Total, hoursEn)}
	}
	return text{subject: "お問い合わせ回数の上限に達しています", body: fmt.Sprintf(`お問い合わせを受け付けましたが、契約年度（%s〜%s）のお問い合わせ回数
（年間 %d 回）をすべて使用済みです（使用 %d 回）。

このお問い合わせは保留として記録し、回数は使用していません。対応について
担当者から追ってご連絡します。

%s`, ys, ye, a.Total, a.Used, hoursJa)}
}

func queuedText(lang string, pos int) text {
	if lang == "en" {
		state := "We are investigating it now."
		if pos > 1 {
			state = fmt.Sprintf("We investigate one inquiry at a time: it is number %d in your queue (you can change the order on the portal).", pos)
		}
		return text{subject: "we have received your inquiry", body: "We have received your inquiry.\n" + state + "\n\n" + hoursEn}
	}
	state := "調査を開始します。"
	if pos > 1 {
		state = fmt.Sprintf("お問い合わせは 1 件ずつ調査します。このお問い合わせは %d 番目です（順番はポータルで変更できます）。", pos)
	}
	return text{subject: "お問い合わせを受け付けました", body: "お問い合わせを受け付けました。\n" + state + "\n\n" + hoursJa}
}

func closedText(lang string, returned bool) text {
	if lang == "en" {
		body := "We have closed this inquiry. To reopen it, reply to this mail.\n"
		if returned {
			body += "The cause lay in our repository or packages, so the inquiry it used has been given back.\n"
		}
		return text{subject: "closed", body: body}
	}
	body := "このお問い合わせをクローズしました。再開する場合は、このメールに返信してください。\n"
	if returned {
		body += "原因が当社のリポジトリまたはパッケージにあったため、使用したお問い合わせ回数をお返ししました。\n"
	}
	return text{subject: "クローズしました", body: body}
}

func outOfScopeText(lang string, level int, reason string) text {
	if lang == "en" {
		return text{subject: "outside the support scope", body: fmt.Sprintf(`This inquiry needs level %d (%s), which is outside standard support
(levels 1–4: installation guidance, operation, feature questions, fault analysis).

Reason: %s
`, level, support.ScopeName(level, "en"), reason)}
	}
	return text{subject: "サポート範囲外のお問い合わせです", body: fmt.Sprintf(`このお問い合わせはレベル %d（%s）の対応が必要で、スタンダードサポートの
範囲（レベル 1〜4: 導入支援、運用支援、機能、障害解析）外です。

理由: %s
`, level, support.ScopeName(level, "ja"), reason)}
}

func refusalText(lang string) text {
	if lang == "en" {
		return text{subject: "not accepted", body: "This address accepts inquiries only from the registered technical contact of a valid contract.\nPlease write from that address, or ask your contract's technical contact to write.\n"}
	}
	return text{subject: "受け付けできませんでした", body: "このアドレスは、有効な契約に登録された技術担当者からのお問い合わせのみ受け付けます。\n登録された技術担当者のアドレスからお送りください。\n"}
}

func splitNote(lang string, from int64) string {
	if lang == "en" {
		return fmt.Sprintf("Your latest mail on %s raises a new matter, so we have opened this inquiry for it.\n\n", mailin.FormatTag(from))
	}
	return fmt.Sprintf("%s への最新のメールは新しい案件と判断しましたので、別のお問い合わせとして受け付けました。\n\n", mailin.FormatTag(from))
}

func footer(lang string, n int64) string {
	if lang == "en" {
		return fmt.Sprintf("\n--\nTo continue this inquiry, reply to this mail and keep [%s] in the subject.\n", mailin.FormatTag(n))
	}
	return fmt.Sprintf("\n--\nこのお問い合わせの続きは、件名の [%s] を残したまま、このメールに返信してください。\n", mailin.FormatTag(n))
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/smtp"
	"os"
	"os/exec"
	"sync"
	"time"

	"golang.org/x/text/encoding/japanese"
)

// benchDesk: customer mail into the support desk, through the SMTP listener
// (4 concurrent senders) and through enmeid mail ingest (one process per
// message, as a mail server's pipe runs it). Each round sends new matters
// and follow-ups threaded by their tag; afterwards every message must be on
// its ticket (none lost, none on the wrong one). The target is 100 mails a
// minute; there is no peer that does the same job to compare with.
func benchDesk() {
	const matters, followUps = 50, 4 // 250 mails per SMTP round
	fmt.Printf("\n== support desk: inbound mail (ISO-2022-JP), %d new matters + %d follow-ups each, SMTP (4 senders) and mail ingest ==\n", matters, followUps)
	store := newData("desk-data")
	admin(store, "product", "add", "b", "--name", "bench", "--format", "rpm")
	admin(store, "contract", "add", "--customer", "bench", "--product", "b", "--quantity", "1", "--inquiries", "unlimited",
		"--start", "2020-01-01", "--end", "2099-12-31", "--contact", "ops@bench.example")
	admin(store, "support", "config", "--address", "support@vendor.example")
	listen := freeAddr()
	serve(store, "--smtp-listen", listen)
	waitPort(listen)

	seq := 0
	msg := func(subject, body string) []byte {
		seq++
		sub, _ := japanese.ISO2022JP.NewEncoder().String(subject)
		b, _ := japanese.ISO2022JP.NewEncoder().String(body)
		return []byte(fmt.Sprintf("From: ops@bench.example\r\nTo: support@vendor.example\r\nSubject: %s\r\nMessage-ID: <b%d.%d@bench.example>\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n%s\r\n",
			mime.BEncoding.Encode("ISO-2022-JP", sub), seq, time.Now().UnixNano(), b))
	}
	tickets := func() []string {
		var ts []struct{ ID string }
		check(json.Unmarshal([]byte(admin(store, "--json", "ticket", "list")), &ts))
		var ids []string
		for _, t := range ts {
			ids = append(ids, t.ID)
		}
		return ids
	}
	// round sends the new matters, then the follow-ups on the tickets they
	// opened, with send; it returns mails per minute.
	round := func(name string, send func([][]byte)) float64 {
		before := map[string]bool{}
		for _, id := range tickets() {
			before[id] = true
		}
		var first [][]byte
		for i := 0; i < matters; i++ {
			first = append(first, msg(fmt.Sprintf("%s 質問 %d", name, i), "サーバーが起動しません。"))
		}
		start := time.Now()
		send(first)
		var fresh []string
		for _, id := range tickets() {
			if !before[id] {
				fresh = append(fresh, id)
			}
		}
		if len(fresh) != matters {
			fail(fmt.Sprintf("%s: %d new matters opened %d tickets", name, matters, len(fresh)))
		}
		var rest [][]byte
		for j := 0; j < followUps; j++ {
			for _, id := range fresh {
				rest = append(rest, msg("Re: ["+id+"] 続き", "追加の情報です。"))
			}
		}
		send(rest)
		took := time.Since(start)
		for _, id := range fresh {
			var t struct{ Messages []struct{ Direction string } }
			check(json.Unmarshal([]byte(admin(store, "--json", "ticket", "show", id)), &t))
			in := 0
			for _, m := range t.Messages {
				if m.Direction == "in" {
					in++
				}
			}
			if in != 1+followUps {
				fail(fmt.Sprintf("%s: ticket %s holds %d customer mails, want %d", name, id, in, 1+followUps))
			}
		}
		n := matters * (1 + followUps)
		return float64(n) / took.Minutes()
	}
	viaSMTP := func(msgs [][]byte) {
		var wg sync.WaitGroup
		ch := make(chan []byte)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for m := range ch {
					check(smtp.SendMail(listen, nil, "ops@bench.example", []string{"support@vendor.example"}, m))
				}
			}()
		}
		for _, m := range msgs {
			ch <- m
		}
		close(ch)
		wg.Wait()
	}
	viaIngest := func(msgs [][]byte) {
		for _, m := range msgs {
			cmd := exec.Command(*enmeid, "mail", "ingest")
			cmd.Env = append(os.Environ(), "ENMEI_DATA="+store)
			cmd.Stdin = bytes.NewReader(m)
			if out, err := cmd.CombinedOutput(); err != nil {
				fail(fmt.Sprintf("mail ingest: %v\n%s", err, out))
			}
		}
	}
	var smtpRates, ingestRates []float64
	for i := 0; i < *runs; i++ {
		smtpRates = append(smtpRates, round(fmt.Sprintf("smtp%d", i), viaSMTP))
		ingestRates = append(ingestRates, round(fmt.Sprintf("ingest%d", i), viaIngest))
	}
	ms, mi := medianF(smtpRates), medianF(ingestRates)
	fmt.Printf("%-40s median %8.0f mails/min  (runs %v)\n", "SMTP listener, 4 senders", ms, roundAll(smtpRates))
	fmt.Printf("%-40s median %8.0f mails/min  (runs %v)\n", "mail ingest, one process per mail", mi, roundAll(ingestRates))
	fmt.Printf("every mail on its ticket; ratio to the 100 mails/min target: SMTP %.0fx, ingest %.0fx\n", ms/100, mi/100)
}

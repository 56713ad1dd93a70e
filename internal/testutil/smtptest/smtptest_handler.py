"""aiosmtpd handler for enmei's Go package internal/testutil/smtptest.

Run as: aiosmtpd -n -l 127.0.0.1:PORT -c smtptest_handler.Handler MAILDIR
(with this file's directory on PYTHONPATH).

Like aiosmtpd.handlers.Mailbox it stores every message in a Maildir, but
byte for byte as received (aiosmtpd's Mailbox re-serialises it with Python's
email package and LF line ends), named in delivery order
(NNNNNNNNN.PID.smtptest, numbering carried on across restarts), with the
envelope in two leading lines:

    X-Smtptest-Mail-From: <sender>
    X-Smtptest-Rcpt-To: <rcpt>, <rcpt>

A recipient whose local part is smtpNNN or ends in +smtpNNN, NNN a 4xx or
5xx code (e.g. user+smtp550@example.com), is refused at RCPT with that code.
"""

import os
import re

_REJECT = re.compile(r'(?:^|[+<])smtp([45][0-9][0-9])@', re.IGNORECASE)


class Handler:
    def __init__(self, mail_dir):
        self.mail_dir = mail_dir
        for sub in ('tmp', 'new', 'cur'):
            os.makedirs(os.path.join(mail_dir, sub), exist_ok=True)
        seqs = [int(n.split('.')[0])
                for n in os.listdir(os.path.join(mail_dir, 'new'))
                if n.split('.')[0].isdigit()]
        self.seq = max(seqs, default=0)

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error('smtptest_handler.Handler wants one argument: MAILDIR')
        return cls(args[0])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        m = _REJECT.search(address)
        if m:
            code = m.group(1)
            return '%s %s.1.1 smtptest refuses <%s>' % (code, code[0], address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        self.seq += 1
        name = '%09d.%d.smtptest' % (self.seq, os.getpid())
        trace = 'X-Smtptest-Mail-From: <%s>\r\nX-Smtptest-Rcpt-To: %s\r\n' % (
            envelope.mail_from, ', '.join('<%s>' % r for r in envelope.rcpt_tos))
        tmp = os.path.join(self.mail_dir, 'tmp', name)
        with open(tmp, 'wb') as f:
            f.write(trace.encode('utf-8', 'surrogateescape'))
            f.write(envelope.original_content)
        os.rename(tmp, os.path.join(self.mail_dir, 'new', name))
        return '250 OK queued as %s' % name

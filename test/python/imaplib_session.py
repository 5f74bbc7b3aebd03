#!/usr/bin/env python3
# Drives a Petrel server with Python's standard imaplib (an IMAP4rev1 client, RFC 3501) and prints one
# JSON object with what every step returned; test/e2e/python-imaplib.test.ts asserts on it.
# Usage: imaplib_session.py PORT USER PASSWORD
import imaplib
import json
import sys
import time


def text(v):
    if isinstance(v, bytes):
        return v.decode('utf-8', 'replace')
    if isinstance(v, tuple):
        return [text(x) for x in v]
    if isinstance(v, list):
        return [text(x) for x in v]
    return v


def main():
    port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    out = {}
    M = imaplib.IMAP4('127.0.0.1', port, timeout=10)
    out['welcome'] = text(M.welcome)
    out['capabilities_before'] = list(M.capabilities)
    typ, data = M.login(user, password)
    out['login'] = [typ, text(data)]
    typ, data = M.capability()
    out['capability'] = [typ, text(data)]

    typ, data = M.list()
    out['list'] = [typ, text(data)]
    typ, data = M.list('""', 'INBOX')
    out['list_inbox'] = [typ, text(data)]

    typ, data = M.create('PyTest')
    out['create'] = [typ, text(data)]

    msg1 = (b'From: Py <py@example.com>\r\nTo: alice@example.com\r\nSubject: from python\r\n'
            b'Date: Tue, 1 Jun 2021 10:00:00 +0000\r\nMessage-ID: <py1@example.com>\r\n\r\n'
            b'0123456789abcdefghij\r\nsecond line\r\n')
    msg2 = (b'From: Py <py@example.com>\r\nTo: alice@example.com\r\nSubject: second\r\n\r\nshort\r\n')
    out['msg1_len'] = len(msg1)
    out['msg1'] = msg1.decode()
    date = imaplib.Time2Internaldate(time.mktime((2021, 6, 1, 10, 0, 0, 0, 0, -1)))
    typ, data = M.append('PyTest', r'(\Flagged)', date, msg1)
    out['append1'] = [typ, text(data)]
    typ, data = M.append('PyTest', None, None, msg2)
    out['append2'] = [typ, text(data)]

    typ, data = M.select('PyTest')
    out['select'] = [typ, text(data)]
    out['select_untagged'] = {k: text(v) for k, v in M.untagged_responses.items()}

    typ, data = M.fetch('1', '(RFC822)')
    out['fetch_rfc822'] = [typ, text(data[0][0]), text(data[0][1])]
    typ, data = M.fetch('1', '(FLAGS)')
    out['flags_after_rfc822'] = [typ, text(data)]
    typ, data = M.fetch('2', '(BODY.PEEK[HEADER])')
    out['fetch_header'] = [typ, text(data[0][0]), text(data[0][1])]
    typ, data = M.fetch('2', '(FLAGS)')
    out['flags_after_peek'] = [typ, text(data)]
    typ, data = M.fetch('1', '(BODY.PEEK[TEXT]<0.10>)')
    out['fetch_partial'] = [typ, text(data[0][0]), text(data[0][1])]
    typ, data = M.fetch('1:2', '(UID RFC822.SIZE INTERNALDATE)')
    out['fetch_meta'] = [typ, text(data)]

    typ, data = M.store('2', '+FLAGS', r'(\Answered $Py)')
    out['store'] = [typ, text(data)]
    typ, data = M.store('2', '-FLAGS.SILENT', r'(\Answered)')
    out['store_silent'] = [typ, text(data)]
    typ, data = M.fetch('2', '(FLAGS)')
    out['flags_after_store'] = [typ, text(data)]

    typ, data = M.search(None, 'FLAGGED')
    out['search_flagged'] = [typ, text(data)]
    typ, data = M.search(None, 'KEYWORD', '$Py')
    out['search_keyword'] = [typ, text(data)]
    typ, data = M.search(None, 'NOT', 'SEEN')
    out['search_unseen'] = [typ, text(data)]
    typ, data = M.search(None, 'LARGER', '100')
    out['search_larger'] = [typ, text(data)]
    typ, data = M.search(None, 'ALL')
    out['search_all'] = [typ, text(data)]

    typ, data = M.uid('SEARCH', 'ALL')
    out['uid_search'] = [typ, text(data)]
    uids = text(data[0]).split()
    typ, data = M.uid('FETCH', uids[-1], '(FLAGS)')
    out['uid_fetch'] = [typ, text(data)]
    typ, data = M.uid('STORE', uids[0], '+FLAGS', r'(\Draft)')
    out['uid_store'] = [typ, text(data)]

    typ, data = M.create('PyCopy')
    out['create_copy'] = [typ, text(data)]
    typ, data = M.copy('1:2', 'PyCopy')
    out['copy'] = [typ, text(data)]
    out['copy_untagged'] = {k: text(v) for k, v in M.untagged_responses.items()}
    # imaplib's uid() returns untagged data only; the COPYUID code is in the tagged response.
    typ, data = M._simple_command('UID', 'COPY', uids[0], 'PyCopy')
    out['uid_copy'] = [typ, text(data)]
    typ, data = M.status('PyCopy', '(MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)')
    out['status_copy'] = [typ, text(data)]

    typ, data = M.store('1', '+FLAGS', r'(\Deleted)')
    out['store_deleted'] = [typ, text(data)]
    typ, data = M.expunge()
    out['expunge'] = [typ, text(data)]
    typ, data = M.search(None, 'ALL')
    out['search_after_expunge'] = [typ, text(data)]

    typ, data = M.check()
    out['check'] = [typ, text(data)]
    typ, data = M.noop()
    out['noop'] = [typ, text(data)]
    typ, data = M.close()
    out['close'] = [typ, text(data)]
    typ, data = M.lsub()
    out['lsub'] = [typ, text(data)]

    typ, data = M.select('NoSuchBox')
    out['select_missing'] = [typ, text(data)]

    typ, data = M.logout()
    out['logout'] = [typ, text(data)]
    print(json.dumps(out))


if __name__ == '__main__':
    main()

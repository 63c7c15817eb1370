#!/usr/bin/env bash
# The operator console in headless Chromium, end to end
# (tests/browser/console.test.mjs, docs/console.md): an operator signs in at
# /console/, sees two real dead letters (the fake Salesforce refused them
# for good), replays one and watches it delivered, discards the other,
# watches the call feed.  The same runner as the demo page's
# (tests/scripts/browser.sh: environment, tools, exit status).
exec "$(dirname "${BASH_SOURCE[0]}")/browser.sh" console

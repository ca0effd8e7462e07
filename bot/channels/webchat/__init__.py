"""The web chat on the municipality's site: the association's conversation in a browser.

`mount_webchat(app, services)` adds its pages to the desk's web server (`/chatt`): a page that
works without JavaScript (forms, POST-redirect-GET) and improves itself with one small script
(fetch, server-sent events), an embed script for the municipality's site, a privacy notice and
an accessibility statement. See views.py for the pages and delivery.py for how the outbox's
web rows reach a chat's transcript.
"""

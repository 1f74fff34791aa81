"""Who may reach what over HTTP: users with passwords and sessions, machine tokens, signed webhooks.

One layer for every route of `paid-media-agent serve` (see docs/security.md):
- `tokens`: long random bearer tokens for machine clients, compared in constant time;
- `passwords` and `users`: people, their argon2 hashes and their roles;
- `roles`: what a principal may see and decide (`can_view`, `can_approve`);
- `sessions`: the signed session cookie and the CSRF tokens bound to it;
- `webhooks`: HMAC-SHA256 signatures over `timestamp.body`, like Slack's, for signed endpoints;
- `middleware`: the ASGI layer that applies all of the above, plus body-size limits, to each request;
- `pages`: `/login` and `/logout`.
"""

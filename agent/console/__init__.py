"""The web console served by `paid-media-agent serve` at `/` (docs/console.md).

Server-rendered pages behind the sign-in of agent/auth/: an overview blended across platforms and
currencies, account -> campaign -> ad set drill-down, the approval queue, the audit log and pacing.
- `routes`: the Starlette routes and who may do what (roles, `can_approve`);
- `queries`: every SQL statement the console runs (actions, audit events, audience names);
- `figures`: the numbers on the pages, lag-corrected where days are still incomplete;
- `changes`: proposals and changes in words (names, not ids; only what changes);
- `formatting`: money in each currency's minor units, times in the account's time zone;
- `charts`: server-side SVG charts with axes, legends and tooltips (no script, no CDN);
- `views`: the Jinja2 templates and their context.
"""

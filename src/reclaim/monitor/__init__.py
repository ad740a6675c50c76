"""The monitor: fetches the places where footage circulates, safely, and matches what it finds.

- :mod:`reclaim.monitor.guard` -- the SSRF guard (URLs, addresses, the guarded connector);
- :mod:`reclaim.monitor.fetch` -- the fetcher (limits, timeouts, retries, redirects);
- :mod:`reclaim.monitor.decode` -- bounded Content-Encoding decoders;
- :mod:`reclaim.monitor.extract` -- links and media out of HTML pages;
- :mod:`reclaim.monitor.robots` -- robots.txt (RFC 9309);
- :mod:`reclaim.monitor.politeness` -- robots.txt per site, kept a day; a gate per host;
- :mod:`reclaim.monitor.crawl` -- one crawl of one source: pages in scope, media named;
- :mod:`reclaim.monitor.feeds` -- sitemaps, RSS and Atom feeds, read safely;
- :mod:`reclaim.monitor.telegram` -- public previews of Telegram channels (t.me/s/...).
"""

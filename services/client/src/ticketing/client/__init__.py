"""The web client: server-side rendered HTML pages over the platform's HTTP APIs.

It owns no data. Each page is built by calling the other services over their internal URLs
with the browser's ``session`` cookie, so the first response is complete; forms post and
redirect (303), and JavaScript only enhances (the order countdown, Stripe's card element).
"""
